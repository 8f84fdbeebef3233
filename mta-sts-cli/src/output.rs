//! Writing results and diagnostics.
//!
//! Results go to stdout in one write; a closed pipe (EPIPE) counts as
//! success. Diagnostics go to stderr as single `warning: ...` or
//! `error: ...` lines; failures to write them are ignored.
//!
//! Input text never reaches a terminal raw (issue 15): diagnostics are
//! written through [`escape_controls`] (line breaks included, so each is
//! one line), and text-mode results through [`text`], which escapes every
//! control character but the line breaks of the layout (the commands
//! escape the values they echo, line breaks included, before that).
//! JSON, CSV and NDJSON are written by [`stdout`] as they are: their
//! writers escape control characters themselves.

use std::fmt::Display;
use std::io::{self, Write};

use anyhow::{Context, Result};
use mta_sts_core::display::{escape_controls, escape_controls_multiline};
use serde::Serialize;

/// Write `text` to stdout. A broken pipe is treated as success.
pub(crate) fn stdout(text: &str) -> Result<()> {
    stdout_open(text).map(drop)
}

/// Write `text` to stdout; `false` when stdout is a closed pipe (not an
/// error: the reader has seen enough), so that a stream can stop early.
pub(crate) fn stdout_open(text: &str) -> Result<bool> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("stdout"),
    }
}

/// Write human-readable `text` to stdout, every control character but
/// LF escaped ([`escape_controls_multiline`]). A broken pipe is treated as
/// success.
pub(crate) fn text(text: &str) -> Result<()> {
    stdout(&escape_controls_multiline(text))
}

/// Write `value` to stdout as pretty-printed JSON followed by a newline.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("JSON output")?;
    text.push('\n');
    stdout(&text)
}

/// Print `warning: <msg>` on stderr.
pub(crate) fn warning(msg: impl Display) {
    stderr_line("warning", &msg.to_string());
}

/// Print `error: <e>` on stderr, the causes joined with `: ` on one line.
pub(crate) fn error(e: &anyhow::Error) {
    stderr_line("error", &format!("{e:#}"));
}

/// Print `<level>: <msg>` on stderr as exactly one line, control
/// characters escaped.
fn stderr_line(level: &str, msg: &str) {
    let _ = writeln!(io::stderr().lock(), "{level}: {}", escape_controls(msg));
}

/// Make a panic print one `error: internal error ...` line (no backtrace
/// hint); `main` then exits with status 1.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        stderr_line("error", &format!("internal error{at}: {msg}"));
    }));
}

#[cfg(test)]
mod tests {
    use super::{escape_controls, escape_controls_multiline};

    #[test]
    fn line_breaks_are_escaped() {
        assert_eq!(escape_controls("a\nb\r\nc"), "a\\nb\\r\\nc");
        assert_eq!(
            escape_controls_multiline("a\x1b[2J\nb\r\n"),
            "a\\u{1b}[2J\nb\\r\n"
        );
    }
}
