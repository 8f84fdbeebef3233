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
//! `target`). `-v` adds debug events, among them one `lookup` event per
//! answered request (`debug: lookup domain=example.com map=postfix
//! answer=OK policy=enforce cache=fetched latency_us=5234`; see
//! `mta_sts_postfix::daemon`, "The lookup event"); `-vv` adds trace events.
//! A start failure (bad configuration, address in use, a `--state` that
//! is not a directory) is one `error: ...` line and status 1.
//!
//! `--metrics IP:PORT` (or `metrics` in the file) serves Prometheus
//! `GET /metrics` there; a change of it on SIGHUP is reported as needing a
//! restart.
//!
//! `mtasts daemon cache list | show DOMAIN | flush [DOMAIN]` read and
//! change the persistent cache of a state directory (`--state DIR`, or the
//! `state_dir` of `--config FILE`) through `mta_sts_postfix::cache`. The
//! cache file can only be opened by one process, and the running daemon
//! holds it: the commands then fail (status 1) with `error: ... is in use:
//! the daemon holds the cache; stop it, run this command, then start it
//! again`. They never create a cache file.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args, Subcommand};
use mta_sts_core::discovery::CacheEntry;
use mta_sts_core::display::escape_controls;
use mta_sts_core::time::Timestamp;
use mta_sts_postfix::cache::CacheDir;
use mta_sts_postfix::config::{Config, ConfigError, DatabaseUrl};
use mta_sts_postfix::daemon::{Daemon, DaemonHandle};
use policy_fetch::error::Chain;
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use crate::logging::{self, LogFormat};
use crate::output;

/// Arguments of `mtasts daemon`: the daemon's own, or a subcommand
/// (`mtasts daemon cache ...`), not both.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Postfix main.cf:\n  \
    smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix\n\n\
    The last field is the socketmap name; it selects [zones.NAME] of the configuration \
    file, or [default_zone]. Without --listen, --unix or a config file the daemon \
    listens on 127.0.0.1:8461. SIGHUP reloads the configuration file, SIGTERM/SIGINT \
    stop gracefully. -v logs one `lookup` line per request (domain, map, answer, policy, \
    cache, latency_us)."
)]
pub(crate) struct DaemonArgs {
    /// Work on the daemon's persistent cache instead of running it.
    #[command(subcommand)]
    pub(crate) command: Option<DaemonCommand>,
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
    #[arg(long, value_name = "DIR", conflicts_with = "database")]
    pub(crate) state: Option<PathBuf>,
    /// Share the policy cache with other MTAs in PostgreSQL
    /// (`postgresql://user@host/db`, or `host=/run/postgresql dbname=mail`;
    /// no TLS: use a Unix socket, loopback or a trusted network) instead
    /// of a state directory. Replaces `database` of the configuration file.
    #[arg(long, value_name = "URL")]
    pub(crate) database: Option<String>,
    /// The TOML configuration file (re-read on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Serve Prometheus metrics (GET /metrics, plain HTTP, no
    /// authentication) on this address; replaces `metrics` of the
    /// configuration file. A change needs a restart.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) metrics: Option<SocketAddr>,
    /// Network overrides.
    #[command(flatten)]
    pub(crate) net: DaemonNetArgs,
    /// Log more: `-v` debug events, `-vv` trace events (default: info).
    #[arg(short, long, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Log lines on stderr as `text` (`info: message key=value ...`) or
    /// `json` (one object per line).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// The network overrides of `mtasts daemon` (those of `mtasts check`
/// without `--smtp-port`: the daemon probes no MX host).
#[derive(Debug, Clone, Args)]
pub(crate) struct DaemonNetArgs {
    /// The only DNS server to use (IP:PORT); default: the system's resolvers.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) resolver: Option<SocketAddr>,
    /// Trust anchors (PEM) used instead of the system's, for policy hosts.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Extra trust anchors (PEM) added to the system's (ignored with --ca-file).
    #[arg(long, value_name = "PEM")]
    pub(crate) extra_ca_file: Option<PathBuf>,
    /// Port for every `https://mta-sts.<domain>/` fetch (SNI and Host unchanged).
    #[arg(long, value_name = "N")]
    pub(crate) https_port: Option<u16>,
}

/// `mtasts daemon ...` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCommand {
    /// Inspect or flush the persistent policy cache of a stopped daemon.
    #[command(subcommand)]
    Cache(CacheCommand),
}

/// `mtasts daemon cache ...`.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "The cache file (STATE/policies.redb) can be opened by one process at a \
    time: while the daemon runs these commands fail with status 1 (\"the daemon holds the \
    cache\"). Stop the daemon, run them, start it again; it loads what is left."
)]
pub(crate) enum CacheCommand {
    /// One line per cached domain: domain, mode, policy id, fetched at, expires at, policy size in bytes ('-' where there is no policy).
    List(CacheDirArgs),
    /// One cached entry and its policy body.
    Show(CacheShowArgs),
    /// Remove the entry of DOMAIN, or every entry.
    Flush(CacheFlushArgs),
}

/// Where the cache is: `--state DIR`, or the `state_dir` of `--config`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CacheDirArgs {
    /// The daemon's state directory (holding policies.redb).
    #[arg(long, value_name = "DIR", conflicts_with = "database")]
    pub(crate) state: Option<PathBuf>,
    /// The PostgreSQL database of a shared cache (as `mtasts daemon
    /// --database`); its table is `mtasts_policy_cache` unless --config
    /// gives `database_table`.
    #[arg(long, value_name = "URL")]
    pub(crate) database: Option<String>,
    /// The daemon's configuration file, for its `state_dir` or `database`
    /// (when neither --state nor --database is given).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// Arguments of `mtasts daemon cache show`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CacheShowArgs {
    /// Where the cache is.
    #[command(flatten)]
    pub(crate) dir: CacheDirArgs,
    /// The domain (normalised: case and a trailing dot do not matter).
    #[arg(value_name = "DOMAIN")]
    pub(crate) domain: String,
}

/// Arguments of `mtasts daemon cache flush`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CacheFlushArgs {
    /// Where the cache is.
    #[command(flatten)]
    pub(crate) dir: CacheDirArgs,
    /// The domain whose entry is removed; without it, every entry is.
    #[arg(value_name = "DOMAIN")]
    pub(crate) domain: Option<String>,
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
            c.database = None;
            c.database_table = None;
        }
        if let Some(d) = &self.database {
            c.database = Some(DatabaseUrl(d.clone()));
            c.state_dir = None;
        }
        if let Some(m) = self.metrics {
            c.metrics = Some(m);
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

/// The subscriber of `mtasts daemon` with `args`, writing to `writer`.
#[cfg(test)]
fn subscriber<W>(args: &DaemonArgs, writer: W) -> tracing::Dispatch
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    logging::subscriber(args.verbose, args.log_format, writer)
}

/// Send the process's `tracing` events to stderr (see the module docs).
fn install_logging(args: &DaemonArgs) -> Result<()> {
    logging::install(args.verbose, args.log_format)
}

/// Run the daemon until SIGTERM or SIGINT, or the `cache` subcommand
/// (`json`: the global `--json`, used by `cache`; the daemon itself logs
/// as `--log-format` says).
pub(crate) fn run(args: &DaemonArgs, json: bool) -> Result<()> {
    if let Some(DaemonCommand::Cache(c)) = &args.command {
        return cache(c, json);
    }
    install_logging(args)?;
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

/// Run `mtasts daemon cache ...`.
fn cache(cmd: &CacheCommand, json: bool) -> Result<()> {
    match cmd {
        CacheCommand::List(dir) => {
            let cache = open_cache(dir)?;
            let loaded = cache.entries()?;
            for s in &loaded.skipped {
                output::warning(format_args!(
                    "{}: the entry of {} does not decode ({}); `mtasts daemon cache flush {}` removes it",
                    cache.location(),
                    s.domain,
                    s.reason,
                    s.domain
                ));
            }
            let now = SystemTime::now();
            if json {
                let entries: Vec<Value> =
                    loaded.entries.iter().map(|e| entry_json(e, now)).collect();
                let skipped: Vec<Value> = loaded
                    .skipped
                    .iter()
                    .map(|s| json!({"domain": s.domain, "reason": s.reason}))
                    .collect();
                output::json(&json!({
                    "store": cache.location().to_owned(),
                    "entries": entries,
                    "skipped": skipped,
                }))
            } else {
                let mut out = String::new();
                for e in &loaded.entries {
                    out.push_str(&list_line(e));
                    out.push('\n');
                }
                output::text(&out)
            }
        }
        CacheCommand::Show(a) => {
            let cache = open_cache(&a.dir)?;
            let e = cache.entry(&a.domain)?;
            let now = SystemTime::now();
            if json {
                let mut v = entry_json(&e, now);
                v["store"] = json!(cache.location().to_owned());
                v["policy"] = json!(e.policy.as_ref().map(|p| p.policy.raw()));
                output::json(&v)
            } else {
                output::text(&show_text(&e, now))
            }
        }
        CacheCommand::Flush(a) => {
            let cache = open_cache(&a.dir)?;
            let flushed = match &a.domain {
                Some(d) => vec![cache.flush(d)?],
                None => cache.flush_all()?,
            };
            if json {
                output::json(&json!({
                    "store": cache.location().to_owned(),
                    "flushed": flushed,
                }))
            } else {
                let mut out: String = flushed
                    .iter()
                    .map(|d| format!("flushed {}\n", escape_controls(d)))
                    .collect();
                if a.domain.is_none() {
                    let n = flushed.len();
                    out.push_str(&format!(
                        "{n} {} flushed\n",
                        if n == 1 { "entry" } else { "entries" }
                    ));
                }
                output::text(&out)
            }
        }
    }
}

/// Open the cache of `--state`, or of the `state_dir` of `--config`.
fn open_cache(a: &CacheDirArgs) -> Result<CacheDir> {
    let dir = match (&a.state, &a.database, &a.config) {
        (Some(d), _, _) => d.clone(),
        (None, Some(url), file) => {
            let table = match file {
                Some(f) => Config::load(f)?.database_table,
                None => None,
            };
            return Ok(CacheDir::open_database(url, table.as_deref())?);
        }
        (None, None, Some(file)) => {
            let c = Config::load(file)?;
            match (c.state_dir, c.database) {
                (Some(d), _) => d,
                (None, Some(url)) => {
                    return Ok(CacheDir::open_database(
                        url.as_str(),
                        c.database_table.as_deref(),
                    )?);
                }
                (None, None) => bail!(
                    "{}: no state_dir or database: the daemon keeps its cache in memory only",
                    file.display()
                ),
            }
        }
        (None, None, None) => {
            bail!("no cache given: give --state DIR, --database URL or --config FILE")
        }
    };
    Ok(CacheDir::open(&dir)?)
}

/// Unix seconds as RFC 3339 UTC (capped at the end of year 9999).
fn rfc3339(secs: u64) -> String {
    const MAX: u64 = 253_402_300_799;
    Timestamp {
        secs: i64::try_from(secs.min(MAX)).unwrap_or(0),
        nanos: 0,
    }
    .to_string()
}

/// `domain mode id fetched_at expires_at size`, `-` where there is no
/// policy.
fn list_line(e: &CacheEntry) -> String {
    let domain = escape_controls(&e.domain);
    match &e.policy {
        Some(p) => format!(
            "{domain} {} {} {} {} {}",
            p.policy.mode().as_str(),
            escape_controls(&p.id),
            rfc3339(p.fetched_at),
            rfc3339(p.fetched_at.saturating_add(u64::from(p.policy.max_age()))),
            p.policy.raw().len()
        ),
        None => format!("{domain} - - - - -"),
    }
}

/// An entry for `--json` (without the policy body).
fn entry_json(e: &CacheEntry, now: SystemTime) -> Value {
    let p = e.policy.as_ref();
    json!({
        "domain": e.domain,
        "mode": p.map(|p| p.policy.mode().as_str()),
        "id": p.map(|p| p.id.as_str()),
        "fetched_at": p.map(|p| rfc3339(p.fetched_at)),
        "expires_at": p.map(|p| rfc3339(p.fetched_at.saturating_add(u64::from(p.policy.max_age())))),
        "expired": p.is_some_and(|p| !p.is_valid(now)),
        "max_age": p.map(|p| p.policy.max_age()),
        "size": p.map(|p| p.policy.raw().len()),
        "last_used": rfc3339(e.last_used),
        "last_failure": e.last_failure.as_ref().map(|f| json!({"id": f.id, "at": rfc3339(f.at)})),
    })
}

/// `mtasts daemon cache show` in text: `key: value` lines, a blank line
/// and the policy body as fetched (its lines with LF endings).
fn show_text(e: &CacheEntry, now: SystemTime) -> String {
    let mut out = format!("domain: {}\n", escape_controls(&e.domain));
    match &e.policy {
        Some(p) => {
            let expires = rfc3339(p.fetched_at.saturating_add(u64::from(p.policy.max_age())));
            let expired = if p.is_valid(now) { "" } else { " (expired)" };
            let _ = write!(
                out,
                "mode: {}\nid: {}\nfetched_at: {}\nexpires_at: {expires}{expired}\nsize: {}\n",
                p.policy.mode().as_str(),
                escape_controls(&p.id),
                rfc3339(p.fetched_at),
                p.policy.raw().len()
            );
        }
        None => out.push_str("policy: none cached\n"),
    }
    let _ = writeln!(out, "last_used: {}", rfc3339(e.last_used));
    if let Some(f) = &e.last_failure {
        let _ = writeln!(
            out,
            "last_failure: id {} at {}",
            escape_controls(&f.id),
            rfc3339(f.at)
        );
    }
    if let Some(p) = &e.policy {
        // The body's lines (CRLF or LF) with LF endings.
        out.push('\n');
        for line in p.policy.raw().lines() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
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
    use crate::logging::max_level;
    use clap::Parser;
    use std::io;
    use tracing::level_filters::LevelFilter;

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
        let lines: Vec<Value> = text
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
    fn metrics_flag_overrides_the_file() {
        let dir =
            std::env::temp_dir().join(format!("mtasts-daemon-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("d.toml");
        std::fs::write(&file, "metrics = \"127.0.0.1:9464\"\n").unwrap();
        let f = file.to_str().unwrap();
        let c = parse(&["--config", f]).load().unwrap();
        assert_eq!(c.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        let c = parse(&["--config", f, "--metrics", "[::1]:9100"])
            .load()
            .unwrap();
        assert_eq!(c.metrics, Some("[::1]:9100".parse().unwrap()));
        assert_eq!(parse(&[]).load().unwrap().metrics, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An entry without a policy (only a remembered failed fetch), and
    /// text that must not reach a terminal raw.
    #[test]
    fn cache_entry_text() {
        use mta_sts_core::Policy;
        use mta_sts_core::discovery::{CachedPolicy, FailedFetch};

        let failed = CacheEntry {
            domain: "x.example".into(),
            policy: None,
            last_failure: Some(FailedFetch {
                id: "bad\u{1b}id".into(),
                at: 1_700_000_000,
                result_type: mta_sts_core::ResultType::StsPolicyFetchError,
                reason: "HTTP 404".into(),
            }),
            last_used: 86_400,
        };
        assert_eq!(list_line(&failed), "x.example - - - - -");
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_100);
        assert_eq!(
            show_text(&failed, now),
            "domain: x.example\npolicy: none cached\nlast_used: 1970-01-02T00:00:00Z\n\
             last_failure: id bad\\u{1b}id at 2023-11-14T22:13:20Z\n"
        );
        let v = entry_json(&failed, now);
        assert_eq!(v["mode"], Value::Null);
        assert_eq!(v["expired"], false);
        assert_eq!(v["last_failure"]["at"], "2023-11-14T22:13:20Z");

        let text = "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 60\n";
        let old = CacheEntry {
            domain: "y.example".into(),
            policy: Some(CachedPolicy {
                id: "i".into(),
                policy: Policy::parse(text).unwrap().into_owned(),
                fetched_at: 1_700_000_000,
            }),
            last_failure: None,
            last_used: u64::MAX,
        };
        assert_eq!(
            list_line(&old),
            format!(
                "y.example testing i 2023-11-14T22:13:20Z 2023-11-14T22:14:20Z {}",
                text.len()
            )
        );
        let shown = show_text(&old, now);
        assert!(
            shown.contains("\nexpires_at: 2023-11-14T22:14:20Z (expired)\n"),
            "{shown}"
        );
        assert!(
            shown.contains("\nlast_used: 9999-12-31T23:59:59Z\n"),
            "{shown}"
        );
        assert!(shown.ends_with(&format!("\n\n{text}")), "{shown}");
        assert_eq!(entry_json(&old, now)["expired"], true);
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
