//! `mtasts daemon`: the MTA-STS policy daemon for Postfix's
//! `smtp_tls_policy_maps` (socketmap protocol, as postfix-mta-sts-resolver
//! answers it), built on `mta_sts_postfix::daemon`.
//!
//! The configuration is the `--config` TOML file (see
//! `mta_sts_postfix::config`), or the defaults, with the command-line flags
//! applied on top. SIGHUP re-reads the file (and re-applies the flags);
//! SIGTERM and SIGINT stop gracefully with exit status 0. Messages go to
//! stderr as `info: ...` and `warning: ...` lines; a start failure (bad
//! configuration, address in use) is one `error: ...` line and status 1.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use mta_sts_postfix::config::{Config, ConfigError};
use mta_sts_postfix::daemon::{Daemon, DaemonHandle, LogFn, LogLevel};
use tokio::signal::unix::{SignalKind, signal};

use crate::{NetArgs, output};

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

/// Print `<level>: <msg>` on stderr as one line; failures are ignored.
fn log_line(level: LogLevel, msg: &str) {
    let msg = msg.replace('\r', "\\r").replace('\n', "\\n");
    let _ = writeln!(io::stderr().lock(), "{level}: {msg}");
}

/// Run the daemon until SIGTERM or SIGINT.
pub(crate) fn run(args: &DaemonArgs) -> Result<()> {
    if args.net.smtp_port.is_some() {
        output::warning("--smtp-port has no effect on the daemon");
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
    let log: LogFn = Arc::new(log_line);
    let daemon = Daemon::start_with_log(config, log).await?;
    loop {
        tokio::select! {
            _ = hup.recv() => reload(args, &daemon),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    log_line(LogLevel::Info, "shutting down");
    daemon.shutdown().await;
    log_line(LogLevel::Info, "stopped");
    Ok(())
}

fn reload(args: &DaemonArgs, daemon: &DaemonHandle) {
    match args.load().and_then(|c| daemon.reload(c)) {
        Ok(outcome) => {
            if !outcome.restart_needed.is_empty() {
                output::warning(format!(
                    "not applied until a restart: {}",
                    outcome.restart_needed.join(", ")
                ));
            }
            log_line(LogLevel::Info, "reloaded");
        }
        Err(e) => output::warning(format!(
            "reload failed, the running configuration stays: {e}"
        )),
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
