//! Showing untrusted text to people: the one home of control-character
//! escaping.
//!
//! Records, policies, reports, certificates and file names come from
//! other parties. Written raw to a terminal, a control character in them
//! can move the cursor, rewrite earlier lines, change the window title or
//! worse (ESC, CSI), and a line break or a Unicode bidirectional override
//! can make a message say something it does not. Every human-readable
//! output of this workspace that echoes such text passes it through
//! [`escape_controls`] (one line) or [`escape_controls_multiline`] (text
//! whose line breaks are the writer's own). JSON output needs none of
//! this: its writers escape control characters themselves.
//!
//! Escaped are the characters [`needs_escape`] names:
//!
//! - C0 controls U+0000–U+001F (TAB, LF and CR included), DEL U+007F and
//!   C1 controls U+0080–U+009F;
//! - the line and paragraph separators U+2028 and U+2029;
//! - the bidirectional embeddings and overrides U+202A–U+202E and
//!   isolates U+2066–U+2069 ("Trojan Source", CVE-2021-42574).
//!
//! TAB, LF and CR become `\t`, `\n` and `\r`; every other one becomes
//! `\u{XX}` with its lower-case hexadecimal code point, as Rust writes
//! it (`\u{1b}`, `\u{7f}`, `\u{202e}`). Everything else, backslashes
//! included, is kept, so ordinary text is returned unchanged (and
//! borrowed). The escaping is for display only: it is not meant to be
//! reversed.
//!
//! ```
//! use mta_sts_core::display::{Escaped, escape_controls};
//!
//! assert_eq!(escape_controls("mx1.example.com"), "mx1.example.com");
//! assert_eq!(escape_controls("a\x1b[2Jb\r\n"), "a\\u{1b}[2Jb\\r\\n");
//! assert_eq!(escape_controls("evil\u{202e}moc.elpmaxe"), "evil\\u{202e}moc.elpmaxe");
//! assert_eq!(format!("`{}`", Escaped("x\u{7f}")), "`x\\u{7f}`");
//! ```

use std::borrow::Cow;
use std::fmt;

/// Whether `c` is escaped by [`escape_controls`]: a C0 control, DEL, a C1
/// control, U+2028, U+2029, or a bidirectional override or isolate
/// (U+202A–U+202E, U+2066–U+2069).
///
/// ```
/// use mta_sts_core::display::needs_escape;
/// assert!(needs_escape('\u{1b}') && needs_escape('\n') && needs_escape('\u{9b}'));
/// assert!(needs_escape('\u{2028}') && needs_escape('\u{202e}') && needs_escape('\u{2069}'));
/// assert!(!needs_escape('a') && !needs_escape(' ') && !needs_escape('é') && !needs_escape('\\'));
/// ```
pub fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Append the escape of `c` (which [`needs_escape`]) to `out`.
fn push_escape<W: fmt::Write>(out: &mut W, c: char) -> fmt::Result {
    match c {
        '\t' => out.write_str("\\t"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

/// Escape `s` with every character for which `escape` is true.
fn escape_with(s: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    let Some(first) = s.find(&escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if escape(c) {
            // Writing to a String cannot fail.
            let _ = push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every character that [`needs_escape`] written as an escape
/// (`\t`, `\n`, `\r`, `\u{1b}`, ...; see the [module docs](self)), so
/// that it prints as one line and cannot drive a terminal. Borrows when
/// nothing needs escaping.
///
/// ```
/// use std::borrow::Cow;
/// use mta_sts_core::display::escape_controls;
///
/// assert!(matches!(escape_controls("v=STSv1; id=1"), Cow::Borrowed(_)));
/// assert_eq!(escape_controls("id=\x1b]0;owned\x07"), "id=\\u{1b}]0;owned\\u{7}");
/// assert_eq!(escape_controls("line 1\nline 2\t\u{85}"), "line 1\\nline 2\\t\\u{85}");
/// ```
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape_with(s, needs_escape)
}

/// Like [`escape_controls`], but LF is kept: for multi-line text whose
/// line breaks are the writer's own (a table, a report), as a last guard
/// before a terminal. Values inside such text should still be escaped
/// with [`escape_controls`] first, so that they cannot add lines; CR is
/// escaped, so a line cannot be overwritten.
///
/// ```
/// use mta_sts_core::display::escape_controls_multiline;
/// assert_eq!(escape_controls_multiline("a\x1b[1m\r\nb\n"), "a\\u{1b}[1m\\r\nb\n");
/// ```
pub fn escape_controls_multiline(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| c != '\n' && needs_escape(c))
}

/// A [`Display`](fmt::Display) adapter that writes its text through
/// [`escape_controls`] without allocating: for error messages and other
/// formatted output that echo input.
///
/// ```
/// use mta_sts_core::display::Escaped;
/// assert_eq!(Escaped("a\nb").to_string(), "a\\nb");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or('\0');
            push_escape(f, c)?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_class_and_nothing_else() {
        for c in ('\u{0}'..='\u{1f}').chain('\u{7f}'..='\u{9f}') {
            assert!(needs_escape(c), "{c:?}");
        }
        for c in [
            '\u{2028}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(needs_escape(c), "{c:?}");
        }
        for c in [
            ' ', '~', '\u{a0}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{206a}', 'ü',
        ] {
            assert!(!needs_escape(c), "{c:?}");
        }
        assert_eq!(escape_controls("\0\u{1f}\u{7f}"), "\\u{0}\\u{1f}\\u{7f}");
        assert_eq!(escape_controls("é\u{9b}31m"), "é\\u{9b}31m");
        assert_eq!(escape_controls("\u{2029}\u{2067}"), "\\u{2029}\\u{2067}");
        assert_eq!(escape_controls("back\\slash \"q\""), "back\\slash \"q\"");
    }

    #[test]
    fn adapter_agrees_with_the_function() {
        for s in ["", "plain", "\x1b", "a\x1bb\u{202e}c\n", "ü\u{85}ü"] {
            assert_eq!(Escaped(s).to_string(), escape_controls(s), "{s:?}");
        }
    }

    #[test]
    fn multiline_keeps_lf_only() {
        assert_eq!(escape_controls_multiline("a\nb"), "a\nb");
        assert_eq!(escape_controls_multiline("a\r\n\t"), "a\\r\n\\t");
    }
}
