//! Writing results and diagnostics.
//!
//! Results go to stdout in one write; a closed pipe (EPIPE) counts as
//! success. Diagnostics go to stderr as single `warning: ...` or
//! `error: ...` lines; failures to write them are ignored.

use std::fmt::Display;
use std::io::{self, Write};

use anyhow::{Context, Result};
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

/// Print `<level>: <msg>` on stderr as exactly one line.
fn stderr_line(level: &str, msg: &str) {
    let _ = writeln!(io::stderr().lock(), "{level}: {}", one_line(msg));
}

/// `msg` with line breaks escaped, so that it prints as one line.
fn one_line(msg: &str) -> String {
    msg.replace('\r', "\\r").replace('\n', "\\n")
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
    use super::one_line;

    #[test]
    fn line_breaks_are_escaped() {
        assert_eq!(one_line("a\nb\r\nc"), "a\\nb\\r\\nc");
    }
}
