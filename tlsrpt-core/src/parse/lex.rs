//! Lexing: whitespace, strings (borrowed when they have no escapes),
//! literals, numbers and skipping any value, with the SWAR helpers that
//! scan eight or sixteen bytes at a time in ordinary `u64` arithmetic.

use std::borrow::Cow;

use super::{K, MAX_DEPTH, Parser, R};

/// The index of the first byte at or after `i` that ends the fast path of
/// a JSON string: `"`, `\\` or a control character (or `b.len()`). Eight
/// bytes at a time (SWAR); the lowest flagged byte of a word is exact.
#[inline]
pub(super) fn scan_string(b: &[u8], mut i: usize) -> usize {
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

/// Member names of one object seen so far, for duplicate detection: a
/// short list scanned linearly, switching to a hash set for objects with
/// many members so hostile input cannot make reading quadratic.
pub(super) struct Seen<'a> {
    small: Vec<Cow<'a, str>>,
    large: Option<std::collections::HashSet<Cow<'a, str>>>,
}

impl<'a> Seen<'a> {
    const SMALL: usize = 16;

    pub(super) fn new() -> Self {
        Self {
            small: Vec::new(),
            large: None,
        }
    }

    /// Record `name`; false when it was already there.
    pub(super) fn insert(&mut self, name: Cow<'a, str>) -> bool {
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

impl<'a> Parser<'a> {
    /// Skip JSON whitespace. Pretty-printed reports have runs of the form
    /// `\n` + indentation: spaces are skipped eight bytes at a time
    /// (SWAR), line breaks and tabs one at a time.
    #[inline]
    pub(super) fn ws(&mut self) {
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
    pub(super) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    #[inline]
    pub(super) fn expect(&mut self, c: u8, what: &'static str) -> R<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(K::Syntax(what)))
        }
    }

    /// Borrow `self.b[from..to]` as text (boundaries are ASCII quotes, so
    /// always on char boundaries of the validated input).
    pub(super) fn text(&self, from: usize, to: usize) -> &'a str {
        let off = self.b.len() - self.src.len();
        &self.src[from - off..to - off]
    }

    /// A JSON string (the opening quote is next).
    #[inline(always)]
    pub(super) fn string(&mut self) -> R<Cow<'a, str>> {
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

    /// Skip any JSON value and return its raw text.
    pub(super) fn raw_value(&mut self, depth: usize) -> R<&'a str> {
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

    pub(super) fn literal(&mut self, lit: &'static [u8]) -> R<()> {
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
}

#[cfg(test)]
mod tests {
    use super::scan_string;
    use crate::parse::Parser;
    use proptest::prelude::*;

    fn naive(b: &[u8], i: usize) -> usize {
        b[i..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .map_or(b.len(), |p| i + p)
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
            let mut p = Parser::new(text.as_bytes(), false);
            p.ws();
            assert_eq!(p.pos, want, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn whitespace_skipping_matches_naive(bytes in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t'), Just(b'\n'), Just(b'\r'), any::<u8>()], 0..40)) {
            let mut p = Parser::new(&bytes, false);
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

    proptest! {
        #[test]
        fn scan_string_matches_naive(bytes in proptest::collection::vec(any::<u8>(), 0..64), start in 0usize..64) {
            let start = start.min(bytes.len());
            prop_assert_eq!(scan_string(&bytes, start), naive(&bytes, start));
        }
    }
}
