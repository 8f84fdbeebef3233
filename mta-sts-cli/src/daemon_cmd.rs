//! `mtasts daemon`: the MTA-STS policy daemon for Postfix's
//! `smtp_tls_policy_maps` (socketmap protocol, as postfix-mta-sts-resolver
//! answers it), built on `mta_sts_postfix::daemon`.
//!
//! The configuration is the `--config` TOML file (see
//! `mta_sts_postfix::config`), or the defaults, with the command-line flags
//! applied on top. SIGHUP re-reads the file (and re-applies the flags);
//! SIGTERM and SIGINT stop gracefully with exit status 0.
//!
//! The daemon's `tracing` events go to stderr, one line each: by default
//! `<level>: <message> key=value ...` (`info: listening
//! listener=127.0.0.1:8461`, `warning: ...`; values with spaces or quotes
//! are quoted, control characters escaped), or with `--log-format json`
//! one JSON object per line (`timestamp`, `level`, `message`, the fields,
//! `target`). `-v` adds debug events, `-vv` trace events. A start failure
//! (bad configuration, address in use) is one `error: ...` line and
//! status 1.

use std::fmt::{self, Write as _};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{ArgAction, Args, ValueEnum};
use mta_sts_core::display::{escape_controls, needs_escape};
use mta_sts_postfix::config::{Config, ConfigError};
use mta_sts_postfix::daemon::{Daemon, DaemonHandle};
use policy_fetch::error::Chain;
use tokio::signal::unix::{SignalKind, signal};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber, info, warn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::NetArgs;

/// How log lines look (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// `<level>: <message> key=value ...`.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `mtasts daemon`.
#[derive(Debug, Args)]
#[command(after_help = "Postfix main.cf:\n  \
    smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix\n\n\
    The last field is the socketmap name; it selects [zones.NAME] of the configuration \
    file, or [default_zone]. Without --listen, --unix or a config file the daemon \
    listens on 127.0.0.1:8461. SIGHUP reloads the configuration file, SIGTERM/SIGINT \
    stop gracefully.")]
pub(crate) struct DaemonArgs {
    /// TCP address to listen on; repeat for several. Replaces `listen` of
    /// the configuration file.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) listen: Vec<SocketAddr>,
    /// Unix-domain socket to listen on; repeat for several. Replaces
    /// `unix` of the configuration file.
    #[arg(long, value_name = "PATH")]
    pub(crate) unix: Vec<PathBuf>,
    /// Directory of the persistent policy cache (`policies.redb`);
    /// default: the file's `state_dir`, else memory only.
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// The TOML configuration file (re-read on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Network overrides (`--smtp-port` has no effect here).
    #[command(flatten)]
    pub(crate) net: NetArgs,
    /// Log more: `-v` debug events, `-vv` trace events (default: info).
    #[arg(short, long, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Log lines on stderr as `text` (`info: message key=value ...`) or
    /// `json` (one object per line).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

impl DaemonArgs {
    /// The configuration file (or the defaults) with the flags applied.
    fn load(&self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if !self.listen.is_empty() {
            c.listen = Some(self.listen.clone());
        }
        if !self.unix.is_empty() {
            c.unix = self.unix.clone();
        }
        if let Some(s) = &self.state {
            c.state_dir = Some(s.clone());
        }
        if let Some(r) = self.net.resolver {
            c.resolver = Some(r);
        }
        if let Some(f) = &self.net.extra_ca_file {
            c.extra_ca_file = Some(f.clone());
        }
        if let Some(f) = &self.net.ca_file {
            c.ca_file = Some(f.clone());
        }
        if let Some(p) = self.net.https_port {
            c.https_port = Some(p);
        }
        c.validate()?;
        Ok(c)
    }
}

/// The most detailed level logged for `-v` given `verbose` times.
fn max_level(verbose: u8) -> LevelFilter {
    match verbose {
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The subscriber of `mtasts daemon` with `args`, writing to `writer`.
fn subscriber<W>(args: &DaemonArgs, writer: W) -> tracing::Dispatch
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(max_level(args.verbose))
        .with_ansi(false);
    match args.log_format {
        LogFormat::Text => tracing::Dispatch::new(builder.event_format(LineFormat).finish()),
        LogFormat::Json => tracing::Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Send the process's `tracing` events to stderr (see the module docs).
fn install_logging(args: &DaemonArgs) -> Result<()> {
    tracing::dispatcher::set_global_default(subscriber(args, io::stderr)).context("log subscriber")
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

/// Run the daemon until SIGTERM or SIGINT.
pub(crate) fn run(args: &DaemonArgs) -> Result<()> {
    install_logging(args)?;
    if args.net.smtp_port.is_some() {
        warn!("--smtp-port has no effect on the daemon");
    }
    let config = args.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(serve(args, config))
}

async fn serve(args: &DaemonArgs, config: Config) -> Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let daemon = Daemon::start(config).await?;
    loop {
        tokio::select! {
            _ = hup.recv() => reload(args, &daemon),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    info!("shutting down");
    daemon.shutdown().await;
    info!("stopped");
    Ok(())
}

fn reload(args: &DaemonArgs, daemon: &DaemonHandle) {
    match args.load().and_then(|c| daemon.reload(c)) {
        Ok(outcome) => {
            if !outcome.restart_needed.is_empty() {
                warn!(
                    settings = outcome.restart_needed.join(","),
                    "not applied until a restart"
                );
            }
            info!("reloaded");
        }
        Err(e) => warn!(
            error = %Chain(&e),
            "reload failed, the running configuration stays"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: DaemonArgs,
    }

    fn parse(argv: &[&str]) -> DaemonArgs {
        Cli::try_parse_from(std::iter::once("daemon").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    /// A `MakeWriter` into a shared buffer.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What the events of `emit` look like on stderr with `args`.
    fn logged(args: &[&str], emit: impl FnOnce()) -> String {
        let args = parse(args);
        let buf = Buf::default();
        let w = buf.clone();
        tracing::dispatcher::with_default(&subscriber(&args, move || w.clone()), emit);
        buf.text()
    }

    fn emit_some() {
        info!(listener = "127.0.0.1:8461", "listening");
        warn!(
            domain = "stall.example",
            "lookup still running at the deadline; answered from the cache"
        );
        warn!(
            listener = "unix:/run/mta sts.sock",
            error = %"netstring length is empty",
            closing = true,
            "malformed socketmap request"
        );
        warn!(value = "", other = "a=\"b\"\\", "quoted");
        info!("line\nbreak \u{1b}[31m");
        tracing::debug!(domain = "x.example", "answered");
        tracing::trace!("very detailed");
        tracing::error!("bad");
    }

    #[test]
    fn text_log_lines() {
        assert_eq!(
            logged(&[], emit_some),
            "info: listening listener=127.0.0.1:8461\n\
             warning: lookup still running at the deadline; answered from the cache domain=stall.example\n\
             warning: malformed socketmap request listener=\"unix:/run/mta sts.sock\" error=\"netstring length is empty\" closing=true\n\
             warning: quoted value=\"\" other=\"a=\\\"b\\\"\\\\\"\n\
             info: line\\nbreak \\u{1b}[31m\n\
             error: bad\n"
        );
        let debug = logged(&["-v"], emit_some);
        assert!(
            debug.contains("\ndebug: answered domain=x.example\n"),
            "{debug}"
        );
        assert!(!debug.contains("trace:"), "{debug}");
        let trace = logged(&["-vv"], emit_some);
        assert!(trace.contains("\ntrace: very detailed\n"), "{trace}");
        assert_eq!(logged(&["-v", "-v", "-v"], emit_some), trace);
    }

    /// Issue 15 item 7: bidi overrides and C1 controls in a message or a
    /// value are escaped too (the shared `mta_sts_core::display` rules).
    #[test]
    fn text_log_lines_escape_bidi_and_c1() {
        let text = logged(&[], || {
            warn!(domain = "evil\u{202e}moc.elpmaxe", "x\u{2066}y\u{9b}z");
        });
        assert_eq!(
            text,
            "warning: x\\u{2066}y\\u{9b}z domain=\"evil\\u{202e}moc.elpmaxe\"\n"
        );
    }

    #[test]
    fn json_log_lines() {
        let text = logged(&["--log-format", "json"], emit_some);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["message"], "listening");
        assert_eq!(lines[0]["listener"], "127.0.0.1:8461");
        assert!(lines[0]["timestamp"].is_string(), "{}", lines[0]);
        assert_eq!(lines[2]["level"], "WARN");
        assert_eq!(lines[2]["error"], "netstring length is empty");
        assert_eq!(lines[2]["closing"], true);
        assert_eq!(lines[4]["message"], "line\nbreak \u{1b}[31m");
    }

    #[test]
    fn log_options() {
        let a = parse(&[]);
        assert_eq!((a.verbose, a.log_format), (0, LogFormat::Text));
        let a = parse(&["-vv", "--log-format", "json"]);
        assert_eq!((a.verbose, a.log_format), (2, LogFormat::Json));
        assert_eq!(max_level(a.verbose), LevelFilter::TRACE);
        assert!(Cli::try_parse_from(["daemon", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn defaults_without_file() {
        let c = parse(&[]).load().unwrap();
        assert_eq!(c.tcp_listeners(), vec!["127.0.0.1:8461".parse().unwrap()]);
        assert_eq!(c.state_dir, None);
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("mtasts-daemon-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("d.toml");
        std::fs::write(
            &file,
            "listen = [\"127.0.0.1:1\"]\nstate_dir = \"/a\"\nhttps_port = 1\n[zones.p]\ntlsrpt = true\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let c = parse(&["--config", f]).load().unwrap();
        assert_eq!(c.tcp_listeners(), vec!["127.0.0.1:1".parse().unwrap()]);
        assert!(c.zone("p").tlsrpt);
        let c = parse(&[
            "--config",
            f,
            "--listen",
            "127.0.0.1:2",
            "--listen",
            "[::1]:3",
            "--state",
            "/b",
            "--https-port",
            "8443",
            "--resolver",
            "127.0.0.1:5353",
            "--ca-file",
            "ca.pem",
        ])
        .load()
        .unwrap();
        assert_eq!(c.tcp_listeners().len(), 2);
        assert_eq!(c.state_dir.as_deref(), Some(std::path::Path::new("/b")));
        assert_eq!(c.https_port, Some(8443));
        assert_eq!(c.resolver, Some("127.0.0.1:5353".parse().unwrap()));
        assert!(c.ca_file.is_some());
        // Only --unix: no default TCP listener.
        let c = parse(&["--unix", "/tmp/s"]).load().unwrap();
        assert!(c.tcp_listeners().is_empty());
        std::fs::write(&file, "listen = 5\n").unwrap();
        let e = parse(&["--config", f]).load().unwrap_err().to_string();
        assert!(e.contains("d.toml: line 1, column 10"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
