//! Log lines of the long-running commands (`mtasts daemon`, `mtasts
//! tlsrpt collect`): their `tracing` events go to stderr, one line each,
//! by default `<level>: <message> key=value ...` (values with spaces or
//! quotes are quoted, control characters escaped), or with `--log-format
//! json` one JSON object per line (`timestamp`, `level`, `message`, the
//! fields, `target`). `-v` adds debug events, `-vv` trace events.

use std::fmt::{self, Write as _};
use std::io;

use anyhow::{Context, Result};
use clap::ValueEnum;
use mta_sts_core::display::{escape_controls, needs_escape};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

/// How log lines look (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// `<level>: <message> key=value ...`.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The most detailed level logged for `-v` given `verbose` times.
pub(crate) fn max_level(verbose: u8) -> LevelFilter {
    match verbose {
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The libraries whose own debug output (HTTP/2 frames, TLS records,
/// DNS messages, SQL statements) is shown only from `-vvv` on: `-v`
/// and `-vv` are about what this program does.
const LIBRARIES: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
    "tokio_rustls",
    "hickory_proto",
    "hickory_resolver",
    "hickory_server",
    "tokio_postgres",
    "postgres",
    "instant_acme",
    "lettre",
    "mail_auth",
];

/// The per-target filter for `verbose`: this program's modules at
/// [`max_level`], [`LIBRARIES`] at `info` below `-vvv`.
fn targets(verbose: u8) -> Targets {
    let libraries = if verbose >= 3 {
        LevelFilter::TRACE
    } else {
        LevelFilter::INFO
    };
    Targets::new()
        .with_default(max_level(verbose))
        .with_targets(LIBRARIES.iter().map(|t| (*t, libraries)))
}

/// The subscriber for `verbose` (`-v` count) and `format`, writing to
/// `writer`.
pub(crate) fn subscriber<W>(verbose: u8, format: LogFormat, writer: W) -> tracing::Dispatch
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(max_level(verbose))
        .with_ansi(false);
    let targets = targets(verbose);
    match format {
        LogFormat::Text => {
            tracing::Dispatch::new(builder.event_format(LineFormat).finish().with(targets))
        }
        LogFormat::Json => tracing::Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish()
                .with(targets),
        ),
    }
}

/// Send the process's `tracing` events to stderr (see the module docs).
pub(crate) fn install(verbose: u8, format: LogFormat) -> Result<()> {
    tracing::dispatcher::set_global_default(subscriber(verbose, format, io::stderr))
        .context("log subscriber")
}

/// Formats an event as `<level>: <message> key=value ...` on one line:
/// `error`, `warning`, `info`, `debug` or `trace`; the message and values
/// with control characters escaped, values quoted (Rust string syntax)
/// when empty or when they contain spaces, quotes, `=` or backslashes.
#[derive(Debug, Clone, Copy, Default)]
struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Line::default();
        event.record(&mut line);
        writeln!(
            writer,
            "{}: {}{}",
            level_name(*event.metadata().level()),
            line.message,
            line.fields
        )
    }
}

/// The level as `mtasts` prints it (`warning`, as other commands do).
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// An event's message and ` key=value` fields, escaped.
#[derive(Debug, Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn push(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = escape_controls(value).into_owned();
        } else if needs_quotes(value) {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

/// Whether a value is written quoted, in Rust string syntax (which also
/// escapes every character [`needs_escape`] names).
fn needs_quotes(value: &str) -> bool {
    value.is_empty()
        || value.chars().any(|c| {
            c.is_whitespace() || needs_escape(c) || c.is_control() || matches!(c, '"' | '=' | '\\')
        })
}
