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
//!   [`ReportWarning`] (DEC-16 to DEC-21, DEC-24, DEC-25).
//!
//! Both modes reject what cannot be read without guessing: broken JSON,
//! duplicate members (I-JSON), counts that are not non-negative integers
//! within `u64`, and values of the wrong JSON type.
//!
//! How it stays fast (see `benches/README.md` for the figures): UTF-8 is
//! validated once for the whole input (simdutf8), so strings are borrowed
//! without further checks; strings and whitespace are scanned eight or
//! sixteen bytes at a time in ordinary `u64` arithmetic (SWAR, no `unsafe`);
//! a member name is recognised by a perfect hash of its first eight bytes
//! and a few word compares of `name":`, with a byte-wise fallback for
//! anything unusual (escapes, space before the colon, the end of the
//! input); the common forms of counts, IP addresses and date-times are
//! read by straight-line code, anything else by the general paths;
//! warnings carry their JSON Pointer as segments and cost no allocation.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use mta_sts_core::ResultType;

use crate::error::{ReportError, ReportErrorKind as K};
use crate::report::{
    DateRange, Extension, FailureDetail, Ip, PolicyInfo, PolicyResult, PolicyType, Report, Summary,
};
use crate::time::{Leniency, Timestamp};
use mta_sts_core::Strictness;

/// Nesting limit for unknown members.
pub const MAX_DEPTH: usize = 64;

/// Largest integer I-JSON represents exactly (2^53 - 1; RPT-JSON-01).
const I_JSON_MAX: u64 = (1 << 53) - 1;

/// A JSON Pointer (RFC 6901) into a report, such as
/// `/policies/0/failure-details/3/receiving-ip`, held as its segments (the
/// schema's member names and array indices) and written out on demand:
/// warnings carry one each, and making them must cost next to nothing.
///
/// ```
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-string":[],"policy-domain":"example.com","mx-host":"mx.example.com"},"summary":{"total-successful-session-count":5,"total-failure-session-count":0},"failure-details":[]}]}"#;
/// let parsed = tlsrpt_core::Report::parse_lenient(json).unwrap();
/// let paths: Vec<String> = parsed.warnings.iter().map(|w| w.path.to_string()).collect();
/// assert_eq!(paths, ["/policies/0/policy/mx-host", ""]);
/// assert_eq!(parsed.warnings[0].path, "/policies/0/policy/mx-host");
/// assert!(parsed.warnings[1].path.is_root()); // contact-info is missing
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct JsonPointer {
    segs: [Seg; MAX_PATH],
    len: u8,
}

impl JsonPointer {
    /// The document root (the empty pointer).
    pub const ROOT: Self = Self {
        segs: [Seg::Index(0); MAX_PATH],
        len: 0,
    };

    /// True for the document root.
    pub fn is_root(&self) -> bool {
        self.len == 0
    }

    fn segments(&self) -> &[Seg] {
        &self.segs[..usize::from(self.len).min(MAX_PATH)]
    }
}

impl Default for JsonPointer {
    fn default() -> Self {
        Self::ROOT
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for seg in self.segments() {
            match seg {
                Seg::Key(k) => write!(f, "/{k}")?,
                Seg::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq<str> for JsonPointer {
    fn eq(&self, other: &str) -> bool {
        // Segment by segment, without writing the pointer out.
        let mut rest = other;
        for seg in self.segments() {
            let Some(r) = rest.strip_prefix('/') else {
                return false;
            };
            let end = r.find('/').unwrap_or(r.len());
            let (text, tail) = r.split_at(end);
            let same = match seg {
                Seg::Key(k) => text == *k,
                Seg::Index(i) => {
                    text.parse::<usize>().ok() == Some(*i)
                        && !text.starts_with('+')
                        && (text == "0" || !text.starts_with('0'))
                }
            };
            if !same {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }
}

impl PartialEq<&str> for JsonPointer {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl serde::Serialize for JsonPointer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Something the reader accepted although the RFC does not allow it, or
/// that looks wrong (DEC-01: never silent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportWarning {
    /// JSON Pointer of the member concerned.
    pub path: JsonPointer,
    /// A stable kebab-case code, e.g. `mx-host-string`.
    pub code: &'static str,
    /// What was found and what was done.
    pub message: Cow<'static, str>,
}

impl fmt::Display for ReportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str("/")?;
        } else {
            write!(f, "{}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

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

/// A member name of the schema as the bytes `name":` (the name, its
/// closing quote and the colon every serializer writes right after it),
/// packed into little-endian words with a mask each, so that a member is
/// recognised with a few word compares instead of a scan for the closing
/// quote and byte-wise compares.
struct Name {
    name: &'static str,
    /// `name":`, zero-padded.
    words: [u64; 4],
    /// Which bytes of each word belong to `name":`.
    masks: [u64; 4],
    /// Bytes of `name":`.
    len: usize,
}

impl Name {
    const fn new(name: &'static str) -> Self {
        let b = name.as_bytes();
        let len = b.len() + 2;
        assert!(
            len >= 8 && len <= 32,
            "member names of the schema have 6 to 30 bytes"
        );
        let mut bytes = [0u8; 32];
        let mut i = 0;
        while i < b.len() {
            bytes[i] = b[i];
            i += 1;
        }
        bytes[b.len()] = b'"';
        bytes[b.len() + 1] = b':';
        let mut words = [0u64; 4];
        let mut masks = [0u64; 4];
        let mut w = 0;
        while w < 4 {
            let mut j = 0;
            while j < 8 {
                words[w] |= (bytes[w * 8 + j] as u64) << (8 * j);
                if w * 8 + j < len {
                    masks[w] |= 0xff << (8 * j);
                }
                j += 1;
            }
            w += 1;
        }
        Self {
            name,
            words,
            masks,
            len,
        }
    }

    /// Whether `b[at..]` starts with `name":`, given the first eight bytes
    /// there as `first`.
    #[inline(always)]
    fn is_at(&self, b: &[u8], at: usize, first: u64) -> bool {
        if first != self.words[0] {
            return false;
        }
        match b.get(at..at + 32) {
            Some(window) => {
                let word = |k: usize| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&window[k * 8..k * 8 + 8]);
                    u64::from_le_bytes(w)
                };
                ((word(1) ^ self.words[1]) & self.masks[1])
                    | ((word(2) ^ self.words[2]) & self.masks[2])
                    | ((word(3) ^ self.words[3]) & self.masks[3])
                    == 0
            }
            // Near the end of the input: compare what is left.
            None => b.get(at..at + self.len).is_some_and(|s| {
                s.iter()
                    .enumerate()
                    .all(|(i, &c)| c == (self.words[i / 8] >> (8 * (i % 8))) as u8)
            }),
        }
    }
}

/// The member names of one object of the schema, with a perfect hash of
/// their first eight bytes: recognising a member costs one multiply, one
/// table load and the word compares of one candidate (names that share
/// their first eight bytes, like `receiving-ip` and `receiving-mx-helo`,
/// are tried in turn).
struct Names {
    names: &'static [Name],
    /// Slot (top four bits of `first * mul`) to the first index in `names`
    /// with that first word, or `u8::MAX`.
    slots: [u8; 16],
    /// The next index with the same first word, or `u8::MAX`.
    next: [u8; 8],
    mul: u64,
}

impl Names {
    const fn new(names: &'static [Name]) -> Self {
        assert!(names.len() <= 8);
        let mut next = [u8::MAX; 8];
        let mut i = 0;
        while i < names.len() {
            let mut j = i + 1;
            while j < names.len() {
                if names[j].words[0] == names[i].words[0] {
                    next[i] = j as u8;
                    break;
                }
                j += 1;
            }
            i += 1;
        }
        // Odd multipliers until distinct first words land in distinct slots.
        let mut mul: u64 = 0x9E37_79B9_7F4A_7C15;
        loop {
            let mut slots = [u8::MAX; 16];
            let mut ok = true;
            let mut i = names.len();
            // Backwards, so each slot ends up with the first of its chain.
            while i > 0 {
                i -= 1;
                let h = (names[i].words[0].wrapping_mul(mul) >> 60) as usize;
                let s = slots[h];
                if s != u8::MAX && names[s as usize].words[0] != names[i].words[0] {
                    ok = false;
                }
                slots[h] = i as u8;
            }
            if ok {
                return Self {
                    names,
                    slots,
                    next,
                    mul,
                };
            }
            mul = mul.wrapping_add(0x2545_F491_4F6C_DD1E);
        }
    }

    /// The index of the name written at `b[at..]` (after the opening
    /// quote) followed by `":`.
    #[inline(always)]
    fn find_at(&self, b: &[u8], at: usize) -> Option<usize> {
        let chunk = b.get(at..at + 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let first = u64::from_le_bytes(word);
        let mut i = usize::from(self.slots[(first.wrapping_mul(self.mul) >> 60) as usize]);
        loop {
            let name = self.names.get(i)?;
            if name.is_at(b, at, first) {
                return Some(i);
            }
            i = usize::from(*self.next.get(i)?);
        }
    }
}

/// The member names of each object of the schema, in the order of the
/// indices the member callbacks match on.
const NAMES_TOP: Names = Names::new(&[
    Name::new("organization-name"),
    Name::new("date-range"),
    Name::new("contact-info"),
    Name::new("report-id"),
    Name::new("policies"),
]);
const NAMES_DATE_RANGE: Names =
    Names::new(&[Name::new("start-datetime"), Name::new("end-datetime")]);
const NAMES_POLICY_RESULT: Names = Names::new(&[
    Name::new("policy"),
    Name::new("summary"),
    Name::new("failure-details"),
]);
const NAMES_POLICY: Names = Names::new(&[
    Name::new("policy-type"),
    Name::new("policy-string"),
    Name::new("policy-domain"),
    Name::new("mx-host"),
]);
const NAMES_SUMMARY: Names = Names::new(&[
    Name::new("total-successful-session-count"),
    Name::new("total-failure-session-count"),
]);
const NAMES_FAILURE_DETAIL: Names = Names::new(&[
    Name::new("result-type"),
    Name::new("sending-mta-ip"),
    Name::new("receiving-mx-hostname"),
    Name::new("receiving-mx-helo"),
    Name::new("receiving-ip"),
    Name::new("failed-session-count"),
    Name::new("additional-information"),
    Name::new("failure-reason-code"),
]);

/// A `failure-details` array at least this long makes the reader keep a
/// scratch vector for the report's later arrays (see `Parser::scratch`).
const SCRATCH_FROM: usize = 256;

/// Room for path segments: the schema nests five levels deep
/// (`/policies/i/failure-details/j/member`).
const MAX_PATH: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Seg {
    Key(&'static str),
    Index(usize),
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    strict: bool,
    /// The JSON Pointer of the current value, `path[..depth]`. The
    /// schema nests at most five levels
    /// (`/policies/i/failure-details/j/member`).
    path: [Seg; MAX_PATH],
    depth: usize,
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

/// The members of one object seen so far, for duplicate detection.
/// The index of the first byte at or after `i` that ends the fast path of
/// a JSON string: `"`, `\\` or a control character (or `b.len()`). Eight
/// bytes at a time (SWAR); the lowest flagged byte of a word is exact.
#[inline]
fn scan_string(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let q = x ^ (LO * u64::from(b'"'));
        let s = x ^ (LO * u64::from(b'\\'));
        // `(v - LO) & !v & HI` flags zero bytes of `v`; the three tests
        // share `!v & HI`, which is the same for `x`, `q` and `s` (`"` and
        // `\\` have no high bit).
        let m = (q.wrapping_sub(LO) | s.wrapping_sub(LO) | x.wrapping_sub(LO * 0x20)) & !x & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// A dotted-quad IPv4 address per RFC 8460 4.4 (`dec-octet`: no leading
/// zeros, at most 255), without the general parser's overhead. `None` for
/// anything else (IPv6 goes to the standard parser).
#[inline]
fn parse_ipv4(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    let digit = |j: usize| {
        s.get(j)
            .map(|c| c.wrapping_sub(b'0'))
            .filter(|&d| d <= 9)
            .map(u32::from)
    };
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        // One to three digits, no leading zero, at most 255.
        let first = digit(i)?;
        let mut v = first;
        i += 1;
        if let Some(d) = digit(i) {
            if first == 0 {
                return None;
            }
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
                if v > 255 {
                    return None;
                }
            }
        }
        *octet = v as u8;
    }
    (i == s.len()).then(|| std::net::Ipv4Addr::from(octets))
}

/// Hex digit values, 0xff for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[inline]
fn hex_digit(c: u8) -> Option<u8> {
    let d = HEX[usize::from(c)];
    (d != 0xff).then_some(d)
}

/// An IPv6 address in any RFC 4291 section 2.2 text form (hex groups,
/// one `::`, an optional trailing dotted IPv4), without zone ids.
#[inline]
fn parse_ipv6(s: &[u8]) -> Option<std::net::Ipv6Addr> {
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0usize, 0usize);
    let mut gap = false;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = true;
        i = 2;
        if s.len() == 2 {
            return Some(std::net::Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        if nh + nt >= 8 {
            return None;
        }
        let start = i;
        let mut v: u16 = 0;
        while let Some(d) = s.get(i).and_then(|&c| hex_digit(c)) {
            if i - start == 4 {
                return None;
            }
            v = (v << 4) | u16::from(d);
            i += 1;
        }
        if s.get(i) == Some(&b'.') {
            // A trailing dotted IPv4 part takes two groups.
            let o = parse_ipv4(&s[start..])?.octets();
            if nh + nt + 2 > 8 {
                return None;
            }
            let (buf, n) = if gap {
                (&mut tail, &mut nt)
            } else {
                (&mut head, &mut nh)
            };
            buf[*n] = u16::from_be_bytes([o[0], o[1]]);
            buf[*n + 1] = u16::from_be_bytes([o[2], o[3]]);
            *n += 2;
            break;
        }
        if i == start {
            return None;
        }
        if gap {
            tail[nt] = v;
            nt += 1;
        } else {
            head[nh] = v;
            nh += 1;
        }
        match (s.get(i), s.get(i + 1)) {
            (None, _) => break,
            (Some(b':'), Some(b':')) if !gap => {
                gap = true;
                i += 2;
                if i == s.len() {
                    break;
                }
            }
            (Some(b':'), Some(_)) => i += 1,
            _ => return None,
        }
    }
    let total = nh + nt;
    if (gap && total > 7) || (!gap && total != 8) {
        return None;
    }
    let mut g = [0u16; 8];
    g[..nh].copy_from_slice(&head[..nh]);
    g[8 - nt..].copy_from_slice(&tail[..nt]);
    Some(std::net::Ipv6Addr::from(g))
}

/// An IPv4 (dotted quad) or IPv6 address, as `sending-mta-ip` and
/// `receiving-ip` hold (RFC 8460 4.4).
#[inline]
fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    match parse_ipv4(s) {
        Some(a) => Some(IpAddr::V4(a)),
        None => parse_ipv6(s).map(IpAddr::V6),
    }
}

/// Member names of one object seen so far, for duplicate detection: a
/// short list scanned linearly, switching to a hash set for objects with
/// many members so hostile input cannot make reading quadratic.
struct Seen<'a> {
    small: Vec<Cow<'a, str>>,
    large: Option<std::collections::HashSet<Cow<'a, str>>>,
}

impl<'a> Seen<'a> {
    const SMALL: usize = 16;

    fn new() -> Self {
        Self {
            small: Vec::new(),
            large: None,
        }
    }

    /// Record `name`; false when it was already there.
    fn insert(&mut self, name: Cow<'a, str>) -> bool {
        if let Some(set) = &mut self.large {
            return set.insert(name);
        }
        if self.small.contains(&name) {
            return false;
        }
        self.small.push(name);
        if self.small.len() > Self::SMALL {
            self.large = Some(self.small.drain(..).collect());
        }
        true
    }
}

fn valid_contact(s: &str) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let b = s.as_bytes();
    // Common case: printable ASCII only (no byte at or below the space,
    // none above 0x7f), checked eight bytes at a time.
    let mut chunks = b.chunks_exact(8);
    let mut special = false;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // High bit set for bytes below 0x21 (exact for the lowest such
        // byte; any flag means at least one) or at or above 0x80.
        special |= (x.wrapping_sub(LO * 0x21) | x) & HI != 0;
    }
    special |= chunks.remainder().iter().any(|&c| c <= b' ' || c >= 0x80);
    if special {
        // ASCII whitespace as `char::is_whitespace` sees it, then the rest
        // of Unicode's.
        if b.iter().any(|&c| matches!(c, b'\t'..=b'\r' | b' ')) || s.contains(char::is_whitespace) {
            return false;
        }
    }
    let Some(at) = b.iter().rposition(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    !local.is_empty()
        && domain.contains(&b'.')
        && domain.first() != Some(&b'.')
        && domain.last() != Some(&b'.')
}

impl<'a> Parser<'a> {
    fn new(b: &'a [u8], strict: bool) -> Self {
        Self {
            src: "",
            b,
            pos: 0,
            strict,
            path: [Seg::Index(0); MAX_PATH],
            depth: 0,
            last_day: None,
            warnings: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The current position as a JSON Pointer.
    #[inline]
    fn pointer(&self) -> JsonPointer {
        JsonPointer {
            segs: self.path,
            // depth <= MAX_PATH for every path the schema has.
            len: self.depth.min(MAX_PATH) as u8,
        }
    }

    fn path_string(&self) -> String {
        self.pointer().to_string()
    }

    #[inline(always)]
    fn push(&mut self, seg: Seg) {
        if let Some(slot) = self.path.get_mut(self.depth) {
            *slot = seg;
        }
        self.depth += 1;
    }

    #[inline(always)]
    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    #[cold]
    #[inline(never)]
    fn err(&self, kind: K) -> Box<ReportError> {
        Box::new(ReportError {
            offset: self.pos,
            path: self.path_string(),
            kind,
        })
    }

    #[cold]
    #[inline(never)]
    fn err_at(&self, offset: usize, kind: K) -> Box<ReportError> {
        Box::new(ReportError {
            offset,
            path: self.path_string(),
            kind,
        })
    }

    fn warn(&mut self, code: &'static str, message: impl Into<Cow<'static, str>>) {
        let path = self.pointer();
        if self.warnings.capacity() == 0 {
            // Reports with warnings tend to have several; seven stay under
            // 1 KiB, which allocators serve from their fast paths.
            self.warnings.reserve(7);
        }
        self.warnings.push(ReportWarning {
            path,
            code,
            message: message.into(),
        });
    }

    /// In strict mode an error; in lenient mode a warning.
    fn deviation(
        &mut self,
        kind: impl FnOnce() -> K,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> R<()> {
        if self.strict {
            Err(self.err(kind()))
        } else {
            self.warn(code, message);
            Ok(())
        }
    }

    /// Skip JSON whitespace. Pretty-printed reports have runs of the form
    /// `\n` + indentation: spaces are skipped eight bytes at a time
    /// (SWAR), line breaks and tabs one at a time.
    #[inline]
    fn ws(&mut self) {
        let b = self.b;
        let mut p = self.pos;
        // Common cases: the next byte is not whitespace, or one space
        // (after `:`) is.
        match b.get(p) {
            Some(&c) if c > b' ' => return,
            None => return,
            Some(b' ') if b.get(p + 1).is_some_and(|&c| c > b' ') => {
                self.pos = p + 1;
                return;
            }
            // A line break starts the indentation of the next line.
            Some(b'\n') => p += 1,
            _ => {}
        }
        const SPACES: u64 = 0x2020_2020_2020_2020;
        // Sixteen bytes at a time: indentation in reports runs to twenty
        // spaces and more.
        while let Some(chunk) = b.get(p..p + 16) {
            let mut lo = [0u8; 8];
            let mut hi = [0u8; 8];
            lo.copy_from_slice(&chunk[..8]);
            hi.copy_from_slice(&chunk[8..]);
            // Zero exactly in the bytes that are spaces.
            let (x, y) = (
                u64::from_le_bytes(lo) ^ SPACES,
                u64::from_le_bytes(hi) ^ SPACES,
            );
            let n = if x != 0 {
                (x.trailing_zeros() / 8) as usize
            } else if y != 0 {
                8 + (y.trailing_zeros() / 8) as usize
            } else {
                p += 16;
                continue;
            };
            p += n;
            match chunk.get(n) {
                Some(b'\n' | b'\r' | b'\t') => p += 1,
                _ => {
                    self.pos = p;
                    return;
                }
            }
        }
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(p) {
            p += 1;
        }
        self.pos = p;
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> R<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(K::Syntax(what)))
        }
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
            self.warn("byte-order-mark", "UTF-8 byte order mark ignored");
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

    /// Borrow `self.b[from..to]` as text (boundaries are ASCII quotes, so
    /// always on char boundaries of the validated input).
    fn text(&self, from: usize, to: usize) -> &'a str {
        let off = self.b.len() - self.src.len();
        &self.src[from - off..to - off]
    }

    /// A JSON string (the opening quote is next).
    #[inline(always)]
    fn string(&mut self) -> R<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.err(K::WrongType("a string")));
        }
        self.pos += 1;
        let start = self.pos;
        self.pos = scan_string(self.b, self.pos);
        match self.b.get(self.pos) {
            None => Err(self.err(K::Syntax("`\"` to end the string"))),
            Some(b'"') => {
                let s = self.text(start, self.pos);
                self.pos += 1;
                Ok(Cow::Borrowed(s))
            }
            Some(b'\\') => self.string_escaped(start),
            Some(_) => Err(self.err(K::Syntax(
                "no control characters inside strings (escape them)",
            ))),
        }
    }

    /// The rest of a string that has escape sequences (`self.pos` is at
    /// the first backslash), decoded into an owned string. Kept out of
    /// line: few strings have escapes.
    #[inline(never)]
    fn string_escaped(&mut self, start: usize) -> R<Cow<'a, str>> {
        // The decoded text is no longer than the raw text up to the
        // closing quote: find that first, for one allocation.
        let mut end = self.pos;
        while self.b.get(end) == Some(&b'\\') {
            end = scan_string(self.b, end + 2);
        }
        let mut out = String::with_capacity(end - start);
        out.push_str(self.text(start, self.pos));
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.err(K::Syntax("`\"` to end the string"))),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let esc = self.b.get(self.pos + 1).copied();
                    self.pos += 2;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.pos) != Some(&b'\\')
                                    || self.b.get(self.pos + 1) != Some(&b'u')
                                {
                                    return Err(
                                        self.err(K::Syntax("a low surrogate `\\uDC00`-`\\uDFFF`"))
                                    );
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(
                                        self.err(K::Syntax("a low surrogate `\\uDC00`-`\\uDFFF`"))
                                    );
                                }
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                char::from_u32(hi)
                            };
                            match c {
                                Some(c) => out.push(c),
                                None => {
                                    return Err(self
                                        .err(K::Syntax("a valid `\\u` escape (lone surrogate)")));
                                }
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err(K::Syntax("a valid escape (`\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t`, `\\uXXXX`)")));
                        }
                    }
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.err(K::Syntax(
                        "no control characters inside strings (escape them)",
                    )));
                }
                Some(_) => {
                    let from = self.pos;
                    self.pos = scan_string(self.b, self.pos);
                    out.push_str(self.text(from, self.pos));
                }
            }
        }
    }

    fn hex4(&mut self) -> R<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self
                .b
                .get(self.pos)
                .and_then(|c| (*c as char).to_digit(16))
                .ok_or_else(|| self.err(K::Syntax("four hex digits after `\\u`")))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// A count: a non-negative JSON integer that fits `u64` (DEC-21).
    fn count(&mut self) -> R<u64> {
        let start = match self.peek() {
            Some(b'0'..=b'9') => self.pos,
            Some(b'-') => return Err(self.err(K::InvalidCount("negative number"))),
            Some(b'"') => return Err(self.err(K::InvalidCount("a string, not a number"))),
            _ => return Err(self.err(K::InvalidCount("expected a non-negative integer"))),
        };
        let b = self.b;
        let mut v: u64 = 0;
        let mut i = start;
        // Up to 19 digits cannot overflow u64; longer numbers go on with
        // checked arithmetic, out of line.
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start == 19 {
                (v, i) = self.long_count(start, v, i)?;
                break;
            }
            v = v * 10 + u64::from(c - b'0');
            i += 1;
        }
        self.pos = i;
        if self.pos - start > 1 && self.b[start] == b'0' {
            return Err(self.err_at(start, K::Syntax("a number without leading zeros")));
        }
        if matches!(self.b.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return Err(self.err_at(start, K::InvalidCount("not an integer")));
        }
        if v > I_JSON_MAX {
            self.deviation(
                || K::InvalidCount("larger than 2^53-1 (I-JSON)"),
                "count-above-i-json",
                format!(
                    "count {v} is above 2^53-1, which I-JSON (RFC 7493) does not represent exactly"
                ),
            )?;
        }
        Ok(v)
    }

    /// The digits of a count from the 20th on (at `i`, with the value `v`
    /// so far): the value and the end, or an error past `u64::MAX`.
    #[cold]
    #[inline(never)]
    fn long_count(&self, start: usize, mut v: u64, mut i: usize) -> R<(u64, usize)> {
        while let Some(&c) = self.b.get(i).filter(|c| c.is_ascii_digit()) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| {
                    self.err_at(start, K::InvalidCount("larger than 18446744073709551615"))
                })?;
            i += 1;
        }
        Ok((v, i))
    }

    /// Skip any JSON value and return its raw text.
    fn raw_value(&mut self, depth: usize) -> R<&'a str> {
        if depth > MAX_DEPTH {
            return Err(self.err(K::TooDeep(MAX_DEPTH)));
        }
        let c = self.peek();
        let start = self.pos;
        match c {
            Some(b'"') => {
                self.string()?;
            }
            Some(b'{') => {
                self.pos += 1;
                let mut names = Seen::new();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        let at = self.pos;
                        let k = self.string()?;
                        if !names.insert(k.clone()) {
                            return Err(self.err_at(at, K::DuplicateMember(k.into_owned())));
                        }
                        self.expect(b':', "`:`")?;
                        self.raw_value(depth + 1)?;
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err(K::Syntax("`,` or `}`"))),
                        }
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.raw_value(depth + 1)?;
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err(K::Syntax("`,` or `]`"))),
                        }
                    }
                }
            }
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.err(K::Syntax("a JSON value"))),
        }
        Ok(self.text(start, self.pos))
    }

    fn literal(&mut self, lit: &'static [u8]) -> R<()> {
        if self.b[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.err(K::Syntax("a JSON value")))
        }
    }

    /// Any JSON number (RFC 8259 grammar), skipped.
    fn number(&mut self) -> R<()> {
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.b.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.err(K::Syntax("a number")));
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.err(K::Syntax("digits after `.`")));
            }
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.err(K::Syntax("digits in the exponent")));
            }
        }
        Ok(())
    }

    /// Iterate over the members of an object. Members named in `names`
    /// go to `member` with their index there (duplicates are errors, and
    /// the path names the member while it runs); unknown members are kept
    /// in `ext`.
    #[inline(always)]
    fn object(
        &mut self,
        what: &'static str,
        names: &'static Names,
        mut member: impl FnMut(&mut Self, usize) -> R<()>,
        ext: &mut Vec<Extension<'a>>,
    ) -> R<()> {
        if self.peek() != Some(b'{') {
            return Err(self.err(K::WrongType(what)));
        }
        self.pos += 1;
        let mut known = 0u32;
        // Names of unknown members, made on the first one.
        let mut unknown: Option<Seen<'a>> = None;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        // The path slot of this object's members: written per member,
        // taken off again (`depth = slot`) outside members and on errors
        // of the object's own syntax.
        let slot = self.depth;
        self.depth += 1;
        loop {
            let at = self.pos;
            if self.peek() != Some(b'"') {
                self.depth = slot;
                return Err(self.err(K::WrongType("a string")));
            }
            let start = self.pos + 1;
            let b = self.b;
            // Fast path: a known name written plainly, followed by `:`.
            let mut id = names.find_at(b, start);
            let mut key = None;
            match id {
                Some(i) => self.pos = start + names.names[i].len,
                None => {
                    // Any other name: read it as a string (escapes
                    // included), then look it up.
                    self.depth = slot;
                    let k = self.string()?;
                    self.expect(b':', "`:`")?;
                    self.depth = slot + 1;
                    id = names.names.iter().position(|n| n.name == k);
                    key = Some(k);
                }
            }
            match id {
                Some(i) => {
                    let bit = 1u32 << i;
                    if known & bit != 0 {
                        self.depth = slot;
                        return Err(self.duplicate(names.names[i].name.as_bytes(), at));
                    }
                    known |= bit;
                    if let Some(seg) = self.path.get_mut(slot) {
                        *seg = Seg::Key(names.names[i].name);
                    }
                    member(self, i)?;
                }
                None => {
                    self.depth = slot;
                    let key = key.unwrap_or_default();
                    if !unknown.get_or_insert_with(Seen::new).insert(key.clone()) {
                        return Err(self.err_at(at, K::DuplicateMember(key.into_owned())));
                    }
                    let raw = self.raw_value(1)?;
                    ext.push(Extension {
                        name: key,
                        raw_json: Cow::Borrowed(raw),
                    });
                    self.depth = slot + 1;
                }
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth = slot;
                    return Ok(());
                }
                _ => {
                    self.depth = slot;
                    return Err(self.err(K::Syntax("`,` or `}`")));
                }
            }
        }
    }

    /// Unknown members of an object the model has no room for
    /// (`date-range`, `summary`): an error in strict mode, ignored with a
    /// warning in lenient mode.
    #[inline]
    fn drop_unknown(&mut self, ext: &[Extension<'a>], object: &'static str) -> R<()> {
        if ext.is_empty() {
            Ok(())
        } else {
            self.drop_unknown_members(ext, object)
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_unknown_members(&mut self, ext: &[Extension<'a>], object: &'static str) -> R<()> {
        let names: Vec<&str> = ext.iter().map(|e| e.name.as_ref()).collect();
        let names = names.join(", ");
        let reason = if object == "summary" {
            "unknown member of summary"
        } else {
            "unknown member of date-range"
        };
        let message = format!("unknown {object} members ignored: {names}");
        self.deviation(
            || K::InvalidValue {
                value: names,
                reason,
            },
            "unknown-member-dropped",
            message,
        )
    }

    #[cold]
    #[inline(never)]
    fn duplicate(&self, name: &[u8], at: usize) -> Box<ReportError> {
        self.err_at(
            at,
            K::DuplicateMember(String::from_utf8_lossy(name).into_owned()),
        )
    }

    fn array(&mut self, mut item: impl FnMut(&mut Self, usize) -> R<()>) -> R<()> {
        if self.peek() != Some(b'[') {
            return Err(self.err(K::WrongType("an array")));
        }
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut i = 0;
        loop {
            self.push(Seg::Index(i));
            item(self, i)?;
            self.pop();
            i += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err(K::Syntax("`,` or `]`"))),
            }
        }
    }

    fn string_array(&mut self) -> R<Vec<Cow<'a, str>>> {
        let mut v = Vec::new();
        self.array(|p, i| {
            if i == 0 {
                // One allocation for the usual few lines (policy-string,
                // mx-host), made directly.
                v = Vec::with_capacity(4);
            }
            v.push(p.string()?);
            Ok(())
        })?;
        Ok(v)
    }

    fn date(&mut self) -> R<Timestamp> {
        if self.peek() == Some(b'"') {
            // Fast path: `"YYYY-MM-DDTHH:MM:SSZ"` read in place.
            let from = self.pos + 1;
            if self.b.get(from + 20) == Some(&b'"')
                && let Some((date, time)) = self
                    .b
                    .get(from..from + 20)
                    .and_then(|s| s.split_first_chunk::<10>())
                && let Ok(time) = <&[u8; 10]>::try_from(time)
                && let Some(secs) = crate::time::canonical_time(time)
            {
                // The two date-times of a report mostly share their day.
                let day = match self.last_day {
                    Some((text, day)) if text == *date => Some(day),
                    _ => crate::time::canonical_day(date),
                };
                if let Some(day) = day {
                    self.last_day = Some((*date, day));
                    self.pos = from + 21;
                    return Ok(Timestamp {
                        secs: day * 86_400 + i64::from(secs),
                        nanos: 0,
                    });
                }
            }
        }
        let at = self.pos;
        let s = self.string()?;
        match Timestamp::parse_rfc3339(&s, !self.strict) {
            Ok((t, Leniency::None)) => Ok(t),
            Ok((t, l)) => {
                let what = match l {
                    Leniency::NoOffset => "has no zone offset; read as UTC",
                    _ => "uses a space instead of `T`",
                };
                self.warn("date-time-not-rfc3339", format!("date-time `{s}` {what}"));
                Ok(t)
            }
            Err(error) => Err(self.err_at(
                at,
                K::InvalidDate {
                    value: s.into_owned(),
                    error,
                },
            )),
        }
    }

    fn top(&mut self, out: &mut Report<'a>) -> R<()> {
        let mut org = None;
        let mut range = None;
        let mut contact: Option<Option<Cow<'a, str>>> = None;
        let mut id = None;
        let mut policies = None;
        let mut ext = Vec::new();
        self.object(
            "an object (the report)",
            &NAMES_TOP,
            |p, which| {
                match which {
                    0 => {
                        org = Some(p.string()?);
                    }
                    1 => {
                        range = Some(p.date_range()?);
                    }
                    2 => {
                        if p.peek() == Some(b'n') {
                            p.literal(b"null")?;
                            p.deviation(|| K::WrongType("a string (an e-mail address), not null"), "contact-info-null", "contact-info is null; read as unknown")?;
                            contact = Some(None);
                        } else {
                            let s = p.string()?;
                            if !valid_contact(&s) {
                                p.deviation(
                                    || K::InvalidValue { value: s.to_string(), reason: "not an e-mail address (RFC 5322 addr-spec)" },
                                    "contact-info-invalid",
                                    format!("contact-info `{s}` is not an e-mail address; kept as written"),
                                )?;
                            }
                            contact = Some(Some(s));
                        }
                    }
                    3 => {
                        id = Some(p.string()?);
                    }
                    4 => {
                        policies = Some(p.policies()?);
                    }
                    _ => {}
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let missing = |p: &Self, name| p.err_at(end, K::MissingMember(name));
        let organization_name = org.ok_or_else(|| missing(self, "organization-name"))?;
        let date_range = range.ok_or_else(|| missing(self, "date-range"))?;
        let report_id = id.ok_or_else(|| missing(self, "report-id"))?;
        let policies = policies.ok_or_else(|| missing(self, "policies"))?;
        let contact_info = match contact {
            Some(c) => c,
            None => {
                if self.strict {
                    return Err(missing(self, "contact-info"));
                }
                self.warn(
                    "contact-info-missing",
                    "contact-info is missing; read as unknown",
                );
                None
            }
        };
        if date_range.end < date_range.start {
            self.warn(
                "date-range-reversed",
                "end-datetime is before start-datetime",
            );
        }
        *out = Report {
            organization_name,
            date_range,
            contact_info,
            report_id,
            policies,
            extensions: ext,
        };
        Ok(())
    }

    fn date_range(&mut self) -> R<DateRange> {
        let (mut start, mut end) = (None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (date-range)",
            &NAMES_DATE_RANGE,
            |p, which| {
                match which {
                    0 => {
                        start = Some(p.date()?);
                    }
                    1 => {
                        end = Some(p.date()?);
                    }
                    _ => {}
                }
                Ok(())
            },
            &mut ext,
        )?;
        self.drop_unknown(&ext, "date-range")?;
        let end_pos = self.pos;
        Ok(DateRange {
            start: start.ok_or_else(|| self.err_at(end_pos, K::MissingMember("start-datetime")))?,
            end: end.ok_or_else(|| self.err_at(end_pos, K::MissingMember("end-datetime")))?,
        })
    }

    fn policies(&mut self) -> R<Vec<PolicyResult<'a>>> {
        let mut v = Vec::new();
        if self.peek() == Some(b'{') {
            // DEC-19: a single object instead of an array (RPT-JSON-03).
            self.deviation(
                || K::WrongType("an array (RPT-JSON-03)"),
                "policies-object",
                "policies is an object, not an array; read as a one-element array",
            )?;
            self.push(Seg::Index(0));
            self.policy_result(&mut v)?;
            self.pop();
            return Ok(v);
        }
        self.array(|p, _| {
            p.policy_result(&mut v)?;
            Ok(())
        })?;
        Ok(v)
    }

    /// One `policies` element, appended to `out` (built in place, not
    /// moved there).
    fn policy_result(&mut self, out: &mut Vec<PolicyResult<'a>>) -> R<()> {
        let (mut policy, mut summary, mut details) = (None, None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (policies element)",
            &NAMES_POLICY_RESULT,
            |p, which| {
                match which {
                    0 => {
                        policy = Some(p.policy_info()?);
                    }
                    1 => {
                        summary = Some(p.summary()?);
                    }
                    2 => {
                        // The first array of the report goes straight into
                        // its own vector; only a report with large arrays
                        // keeps the scratch vector for the rest.
                        let mut scratch = std::mem::take(&mut p.scratch);
                        let reused = scratch.capacity() > 0;
                        scratch.clear();
                        p.array(|p, _| p.failure_detail(&mut scratch))?;
                        details = Some(if reused {
                            let mut d = Vec::with_capacity(scratch.len());
                            d.append(&mut scratch);
                            p.scratch = scratch;
                            d
                        } else {
                            if scratch.len() >= SCRATCH_FROM {
                                p.scratch = Vec::with_capacity(scratch.len());
                            }
                            scratch
                        });
                    }
                    _ => {}
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let policy = policy.ok_or_else(|| self.err_at(end, K::MissingMember("policy")))?;
        let summary = summary.ok_or_else(|| self.err_at(end, K::MissingMember("summary")))?;
        let failure_details = match details {
            Some(d) => d,
            None => {
                if self.strict {
                    return Err(self.err_at(end, K::MissingMember("failure-details")));
                }
                self.warn(
                    "failure-details-missing",
                    "failure-details is missing; read as no failure details",
                );
                Vec::new()
            }
        };
        let sum = failure_details
            .iter()
            .map(|d| d.failed_session_count)
            .fold(0u64, u64::saturating_add);
        if sum != summary.total_failure_session_count {
            self.warn(
                "failure-count-mismatch",
                format!(
                    "total-failure-session-count is {} but the failure details add up to {sum} (RFC 8460 allows overlapping failure types)",
                    summary.total_failure_session_count
                ),
            );
        }
        out.push(PolicyResult {
            policy,
            summary,
            failure_details,
            extensions: ext,
        });
        Ok(())
    }

    fn policy_info(&mut self) -> R<PolicyInfo<'a>> {
        let (mut ptype, mut pstring, mut domain, mut mx) = (None, None, None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (policy)",
            &NAMES_POLICY,
            |p, which| {
                match which {
                    0 => {
                        let s = p.string()?;
                        let mut t = PolicyType::from_json(&s);
                        if let PolicyType::Other(o) = &t
                            && o.bytes().any(|c| c.is_ascii_uppercase())
                        {
                            let lower = o.to_ascii_lowercase();
                            let known = PolicyType::from_json(&lower);
                            if !matches!(known, PolicyType::Other(_)) {
                                p.deviation(
                                    || K::InvalidValue {
                                        value: o.clone(),
                                        reason: "policy types are lower case",
                                    },
                                    "policy-type-case",
                                    format!("policy-type `{o}` read as `{lower}`"),
                                )?;
                                t = known;
                            }
                        }
                        ptype = Some(t);
                    }
                    1 => {
                        if p.peek() == Some(b'"') {
                            p.deviation(
                                || K::WrongType("an array of strings"),
                                "policy-string-string",
                                "policy-string is a string, not an array; read as one line",
                            )?;
                            pstring = Some(vec![p.string()?]);
                        } else {
                            pstring = Some(p.string_array()?);
                        }
                    }
                    2 => {
                        domain = Some(p.string()?);
                    }
                    3 => {
                        mx = Some(p.mx_host()?);
                    }
                    _ => {}
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let policy_type = ptype.ok_or_else(|| self.err_at(end, K::MissingMember("policy-type")))?;
        let no_policy = policy_type == PolicyType::NoPolicyFound;
        let mut policy_string = match pstring {
            Some(s) => s,
            None if no_policy => Vec::new(), // DEC-25
            None => {
                if self.strict {
                    return Err(self.err_at(end, K::MissingMember("policy-string")));
                }
                self.warn("policy-string-missing", "policy-string is missing");
                Vec::new()
            }
        };
        if domain.is_none() {
            if self.strict {
                return Err(self.err_at(end, K::MissingMember("policy-domain")));
            }
            self.warn("policy-domain-missing", "policy-domain is missing");
        }
        let mx_host = match mx {
            Some(m) => m,
            None if policy_type == PolicyType::Sts => {
                if self.strict {
                    return Err(self.err_at(end, K::MissingMember("mx-host")));
                }
                self.warn("mx-host-missing", "mx-host is missing for an sts policy");
                Vec::new()
            }
            None => Vec::new(),
        };
        // DEC-24: Microsoft's double-encoded TLSA policy-string.
        if policy_type == PolicyType::Tlsa
            && policy_string.len() == 1
            && policy_string[0].trim_start().starts_with('[')
        {
            let inner = std::mem::take(&mut policy_string[0]);
            let decoded = {
                let mut sub = Parser::new(inner.as_bytes(), true);
                sub.src = &inner;
                sub.string_array()
                    .ok()
                    .filter(|_| {
                        sub.ws();
                        sub.pos == sub.b.len()
                    })
                    .map(|items| {
                        items
                            .into_iter()
                            .map(|c| Cow::<'a, str>::Owned(c.into_owned()))
                            .collect::<Vec<_>>()
                    })
            };
            match decoded {
                None => policy_string[0] = inner,
                Some(items) => {
                    self.push(Seg::Key("policy-string"));
                    self.deviation(
                        || K::InvalidValue {
                            value: inner.to_string(),
                            reason: "a JSON-encoded array inside one string",
                        },
                        "policy-string-double-encoded",
                        format!(
                            "tlsa policy-string holds a JSON-encoded array; read as its {} records",
                            items.len()
                        ),
                    )?;
                    self.pop();
                    policy_string = items;
                }
            }
        }
        Ok(PolicyInfo {
            policy_type,
            policy_string,
            policy_domain: domain,
            mx_host,
            extensions: ext,
        })
    }

    fn mx_host(&mut self) -> R<Vec<Cow<'a, str>>> {
        let mut v = if self.peek() == Some(b'"') {
            // DEC-16 / erratum 6241: a bare string.
            self.deviation(|| K::WrongType("an array of strings (erratum 6241)"), "mx-host-string", "mx-host is a string, not an array (RFC 8460 erratum 6241); read as a one-element array")?;
            vec![self.string()?]
        } else {
            self.string_array()?
        };
        for (i, m) in v.iter_mut().enumerate() {
            if m.starts_with("mx:") {
                // Every repeated prefix goes, so reading the written report
                // again gives the same value.
                let mut rest: &str = m;
                while let Some(r) = rest.strip_prefix("mx:") {
                    rest = r.trim_start();
                }
                let rest = rest.to_owned();
                self.push(Seg::Index(i));
                self.deviation(
                    || K::InvalidValue {
                        value: m.to_string(),
                        reason: "an `mx: ` prefix in mx-host",
                    },
                    "mx-host-prefix",
                    format!("mx-host `{m}` carries an `mx:` prefix; read as `{rest}`"),
                )?;
                self.pop();
                *m = Cow::Owned(rest);
            }
        }
        Ok(v)
    }

    fn summary(&mut self) -> R<Summary> {
        let (mut ok, mut failed) = (None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (summary)",
            &NAMES_SUMMARY,
            |p, which| {
                match which {
                    0 => {
                        ok = Some(p.count()?);
                    }
                    1 => {
                        failed = Some(p.count()?);
                    }
                    _ => {}
                }
                Ok(())
            },
            &mut ext,
        )?;
        self.drop_unknown(&ext, "summary")?;
        let end = self.pos;
        let get = |p: &mut Self, v: Option<u64>, name: &'static str| -> R<u64> {
            match v {
                Some(v) => Ok(v),
                None => {
                    let message = if name == "total-successful-session-count" {
                        "total-successful-session-count is missing; read as 0"
                    } else {
                        "total-failure-session-count is missing; read as 0"
                    };
                    p.deviation(|| K::MissingMember(name), "count-missing", message)
                        .map_err(|mut e| {
                            e.offset = end;
                            e
                        })?;
                    Ok(0)
                }
            }
        };
        Ok(Summary {
            total_successful_session_count: get(self, ok, "total-successful-session-count")?,
            total_failure_session_count: get(self, failed, "total-failure-session-count")?,
        })
    }

    #[inline]
    fn ip(&mut self) -> R<Ip<'a>> {
        let at = self.pos;
        let s = self.string()?;
        match parse_ip(s.as_bytes()) {
            Some(a) => Ok(Ip::Addr(a)),
            None => {
                if self.strict {
                    return Err(self.err_at(
                        at,
                        K::InvalidValue {
                            value: s.into_owned(),
                            reason: "not an IPv4 or IPv6 address",
                        },
                    ));
                }
                self.warn(
                    "ip-invalid",
                    format!("`{s}` is not an IP address; kept as written"),
                );
                Ok(Ip::Invalid(s))
            }
        }
    }

    /// One `failure-details` element, appended to `out` (built in place,
    /// not moved there).
    fn failure_detail(&mut self, out: &mut Vec<FailureDetail<'a>>) -> R<()> {
        let mut rt = None;
        let (mut smi, mut rmh, mut helo, mut rip, mut count, mut info, mut code) =
            (None, None, None, None, None, None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (failure-details element)",
            &NAMES_FAILURE_DETAIL,
            |p, which| {
                match which {
                    0 => {
                        let s = p.string()?;
                        let Ok(mut t) = s.parse::<ResultType>();
                        if !t.is_registered() && s.bytes().any(|c| c.is_ascii_uppercase()) {
                            let lower = s.to_ascii_lowercase();
                            let Ok(known) = lower.parse::<ResultType>();
                            if known.is_registered() {
                                p.deviation(
                                    || K::InvalidValue {
                                        value: s.to_string(),
                                        reason: "result types are lower case",
                                    },
                                    "result-type-case",
                                    format!("result-type `{s}` read as `{lower}`"),
                                )?;
                                t = known;
                            }
                        }
                        rt = Some(t);
                    }
                    1 => {
                        smi = Some(p.ip()?);
                    }
                    2 => {
                        rmh = Some(p.string()?);
                    }
                    3 => {
                        helo = Some(p.string()?);
                    }
                    4 => {
                        rip = Some(p.ip()?);
                    }
                    5 => {
                        count = Some(p.count()?);
                    }
                    6 => {
                        info = Some(p.string()?);
                    }
                    7 => {
                        code = Some(p.string()?);
                    }
                    _ => {}
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let result_type = rt.ok_or_else(|| self.err_at(end, K::MissingMember("result-type")))?;
        let failed_session_count =
            count.ok_or_else(|| self.err_at(end, K::MissingMember("failed-session-count")))?;
        for (present, name, message) in [
            (smi.is_some(), "sending-mta-ip", "sending-mta-ip is missing"),
            (
                rmh.is_some(),
                "receiving-mx-hostname",
                "receiving-mx-hostname is missing",
            ),
        ] {
            if !present {
                if self.strict {
                    return Err(self.err_at(end, K::MissingMember(name)));
                }
                self.warn("failure-detail-member-missing", message);
            }
        }
        out.push(FailureDetail {
            result_type,
            sending_mta_ip: smi,
            receiving_mx_hostname: rmh,
            receiving_mx_helo: helo,
            receiving_ip: rip,
            failed_session_count,
            additional_information: info,
            failure_reason_code: code,
            extensions: ext,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_ip, parse_ipv4, scan_string};
    use proptest::prelude::*;

    fn naive(b: &[u8], i: usize) -> usize {
        b[i..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .map_or(b.len(), |p| i + p)
    }

    #[test]
    fn every_member_name_is_recognised_and_nothing_else() {
        use super::{
            NAMES_DATE_RANGE, NAMES_FAILURE_DETAIL, NAMES_POLICY, NAMES_POLICY_RESULT,
            NAMES_SUMMARY, NAMES_TOP,
        };
        for table in [
            &NAMES_TOP,
            &NAMES_DATE_RANGE,
            &NAMES_POLICY_RESULT,
            &NAMES_POLICY,
            &NAMES_SUMMARY,
            &NAMES_FAILURE_DETAIL,
        ] {
            for (i, n) in table.names.iter().enumerate() {
                for tail in ["", " 1}", "{\"x\": [1, 2, 3]}, \"padding\": true"] {
                    let text = format!("{}\":{tail}", n.name);
                    assert_eq!(table.find_at(text.as_bytes(), 0), Some(i), "{text}");
                    let spaced = format!("{}\" :{tail}", n.name);
                    assert_eq!(table.find_at(spaced.as_bytes(), 0), None, "{spaced}");
                    let longer = format!("{}x\":{tail}", n.name);
                    assert_eq!(table.find_at(longer.as_bytes(), 0), None, "{longer}");
                    let shorter = format!("{}\":{tail}", &n.name[..n.name.len() - 1]);
                    assert_eq!(table.find_at(shorter.as_bytes(), 0), None, "{shorter}");
                }
            }
            for other in ["policy-typ\":", "receiving-mx\":", "xxxxxxxxxxxxxxxx", ""] {
                assert_eq!(table.find_at(other.as_bytes(), 0), None, "{other}");
            }
        }
    }

    #[test]
    fn json_pointer_text_and_equality() {
        use super::{JsonPointer, Seg};
        let mut p = JsonPointer::ROOT;
        assert!(p.is_root());
        assert_eq!(p.to_string(), "");
        assert_eq!(p, "");
        for (i, seg) in [
            Seg::Key("policies"),
            Seg::Index(10),
            Seg::Key("failure-details"),
            Seg::Index(0),
            Seg::Key("receiving-ip"),
        ]
        .into_iter()
        .enumerate()
        {
            p.segs[i] = seg;
        }
        p.len = 5;
        let text = "/policies/10/failure-details/0/receiving-ip";
        assert_eq!(p.to_string(), text);
        assert_eq!(p, text);
        assert_eq!(format!("{p:?}"), format!("{text:?}"));
        assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{text}\""));
        for other in [
            "/policies/010/failure-details/0/receiving-ip",
            "/policies/+10/failure-details/0/receiving-ip",
            "/policies/10/failure-details/0/receiving-ip/",
            "/policies/10/failure-details/0",
            "policies/10/failure-details/0/receiving-ip",
            "/policies/10/failure-details/00/receiving-ip",
            "/policies/1/failure-details/0/receiving-ip",
        ] {
            assert_ne!(p, other);
        }
    }

    #[test]
    fn contact_check() {
        for ok in [
            "tlsrpt@example.com",
            "smtp-tls-reporting@google.com",
            "a@b.c",
            "x@y@mail.example",
            "caf\u{e9}@\u{fc}ber.example",
            "a\x01b@example.com",
        ] {
            assert!(super::valid_contact(ok), "{ok}");
        }
        for bad in [
            "",
            "@example.com",
            "nobody",
            "a@example",
            "a@.example.com",
            "a@example.com.",
            "a b@example.com",
            "tls-reporting@example.com\n",
            "reports@exam\u{a0}ple.com",
            "reports@example.com\u{2003}",
            "\treports@example.com",
        ] {
            assert!(!super::valid_contact(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn contact_check_matches_a_plain_reading(s in "[a-z@. \t\u{a0}\u{1}-]{0,24}") {
            let plain = match s.rsplit_once('@') {
                Some((l, d)) => {
                    !l.is_empty()
                        && d.contains('.')
                        && !d.starts_with('.')
                        && !d.ends_with('.')
                        && !s.contains(char::is_whitespace)
                }
                None => false,
            };
            prop_assert_eq!(super::valid_contact(&s), plain, "{:?}", s);
        }
    }

    #[test]
    fn whitespace_skipping() {
        for (text, want) in [
            ("", 0),
            ("x", 0),
            ("   x", 3),
            (" \t\r\n \n        \n    {", 19),
            ("                  ", 18),
            ("\u{a0}", 0),
            (" \x0b", 1),
            ("\n\n\n\n\n\n\n\n\n\n\n!", 11),
        ] {
            let mut p = super::Parser::new(text.as_bytes(), false);
            p.ws();
            assert_eq!(p.pos, want, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn whitespace_skipping_matches_naive(bytes in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t'), Just(b'\n'), Just(b'\r'), any::<u8>()], 0..40)) {
            let mut p = super::Parser::new(&bytes, false);
            p.ws();
            let want = bytes.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r')).unwrap_or(bytes.len());
            prop_assert_eq!(p.pos, want);
        }
    }

    #[test]
    fn scan_string_examples() {
        assert_eq!(scan_string(b"abcdefghij\"", 0), 10);
        assert_eq!(scan_string(b"abc\\", 0), 3);
        assert_eq!(scan_string(b"abcdefgh\x01", 0), 8);
        assert_eq!(
            scan_string("caf\u{e9}\u{4e2d}\u{1f600}x\"".as_bytes(), 0),
            13
        );
        assert_eq!(scan_string(b"\x7f\x80\xff\x20\"", 0), 4);
        assert_eq!(scan_string(b"no end here", 3), 11);
    }

    #[test]
    fn ipv6_examples() {
        for ok in [
            "::",
            "::1",
            "1::",
            "2001:db8:abcd:0012::1",
            "2001:DB8::8:800:200C:417A",
            "::ffff:192.0.2.1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1::7:8",
            "fe80::",
        ] {
            assert_eq!(parse_ip(ok.as_bytes()), ok.parse().ok(), "{ok}");
            assert!(parse_ip(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "::1.2.3",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::g",
            "1:",
            ":1",
            "fe80::1%eth0",
        ] {
            assert_eq!(parse_ip(bad.as_bytes()), None, "{bad}");
            assert!(
                bad.parse::<std::net::IpAddr>().is_err(),
                "std accepts {bad}"
            );
        }
    }

    #[test]
    fn ipv4_fast_path_agrees_with_rfc_8460_abnf() {
        assert_eq!(parse_ipv4(b"192.0.2.1"), Some([192, 0, 2, 1].into()));
        assert_eq!(parse_ipv4(b"0.0.0.0"), Some([0, 0, 0, 0].into()));
        assert_eq!(parse_ipv4(b"255.255.255.255"), Some([255; 4].into()));
        for bad in [
            "256.1.1.1",
            "01.1.1.1",
            "1.1.1",
            "1.1.1.1.",
            "1.1.1.1.1",
            "1..1.1",
            "",
            "1.1.1.1 ",
            "1111.1.1.1",
            "::1",
        ] {
            assert_eq!(parse_ipv4(bad.as_bytes()), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn scan_string_matches_naive(bytes in proptest::collection::vec(any::<u8>(), 0..64), start in 0usize..64) {
            let start = start.min(bytes.len());
            prop_assert_eq!(scan_string(&bytes, start), naive(&bytes, start));
        }

        #[test]
        fn ipv4_fast_path_matches_std(s in "[0-9.]{0,16}") {
            prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse::<std::net::Ipv4Addr>().ok());
        }

        #[test]
        fn ip_parser_matches_std_on_ip_like_text(s in "[0-9a-fA-F:.]{0,45}") {
            prop_assert_eq!(parse_ip(s.as_bytes()), s.parse::<std::net::IpAddr>().ok(), "{}", s);
        }

        #[test]
        fn ip_parser_matches_std_on_ipv6_forms(g in any::<[u16; 8]>(), zeros in 0usize..8, at in 0usize..8, v4 in any::<bool>(), upper in any::<bool>()) {
            let mut g = g;
            for x in g.iter_mut().take((at + zeros).min(8)).skip(at) { *x = 0; }
            let a = std::net::Ipv6Addr::from(g);
            let mut forms = vec![a.to_string(), g.iter().map(|x| format!("{x:04x}")).collect::<Vec<_>>().join(":")];
            if v4 {
                let o = a.octets();
                forms.push(format!("{}:{}.{}.{}.{}", g[..6].iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":"), o[12], o[13], o[14], o[15]));
            }
            for f in forms {
                let f = if upper { f.to_uppercase() } else { f };
                prop_assert_eq!(parse_ip(f.as_bytes()), Some(std::net::IpAddr::V6(a)), "{}", f);
            }
        }

        #[test]
        fn ipv4_fast_path_matches_std_on_addresses(a in any::<[u8; 4]>()) {
            let s = std::net::Ipv4Addr::from(a).to_string();
            prop_assert_eq!(parse_ipv4(s.as_bytes()), Some(a.into()));
        }
    }
}
