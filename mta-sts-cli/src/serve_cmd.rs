//! `mtasts serve`: serve the policy of every domain of the site store
//! over HTTPS (see `mtasts_site::serve`), with certificates from a
//! certbot-style directory (`--cert-dir`) and/or obtained over ACME
//! (`--acme-directory`), the ACME HTTP-01 listener (`--http`) and the
//! Prometheus metrics listener (`--metrics`).
//!
//! Logs go to stderr as for `mtasts daemon` (`--log-format text|json`,
//! `-v`). SIGHUP re-reads the certificate files and the store at once;
//! SIGTERM and SIGINT stop accepting, let requests in flight finish (a
//! few seconds at most) and exit 0. A start failure (address in use, an
//! unreadable certificate directory, a store that cannot be opened) is
//! one `error: ...` line and status 1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{ArgAction, Args, ValueEnum};
use mtasts_site::acme::{AcmeConfig, Challenge};
use mtasts_site::serve::{DEFAULT_MAX_CONNECTIONS, ServeConfig, Server};
use policy_fetch::error::Chain;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use crate::domain_cmd::StoreArgs;
use crate::logging::{self, LogFormat};

/// Arguments of `mtasts serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each hosted domain's owner points mta-sts.<domain> at this server \
    (CNAME) and publishes the records of `mtasts domain records`. Certificates: \
    --cert-dir DIR as certbot's live/ directory (DIR/<host>/fullchain.pem and privkey.pem, \
    re-read when they change), or ACME with --acme-directory and --acme-contact \
    (TLS-ALPN-01 on the HTTPS listener, or HTTP-01 on --http). Changes made with \
    `mtasts domain` (by any node sharing the store) are served within seconds. \
    SIGHUP reloads at once; SIGTERM/SIGINT stop gracefully."
)]
pub(crate) struct ServeArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The HTTPS listener (e.g. [::]:443).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) https: SocketAddr,
    /// A plain HTTP listener for ACME HTTP-01 challenges only (404 for
    /// everything else; e.g. [::]:80).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) http: Option<SocketAddr>,
    /// Certificates laid out as certbot's live/ directory:
    /// DIR/<host>/fullchain.pem and DIR/<host>/privkey.pem.
    #[arg(long, value_name = "DIR")]
    pub(crate) cert_dir: Option<PathBuf>,
    /// Obtain and renew certificates from this ACME directory URL
    /// (e.g. https://acme-v02.api.letsencrypt.org/directory).
    #[arg(long, value_name = "URL", requires = "acme_contact")]
    pub(crate) acme_directory: Option<String>,
    /// The ACME account's contact (mailto:...); repeat for several.
    #[arg(long, value_name = "MAILTO", requires = "acme_directory")]
    pub(crate) acme_contact: Vec<String>,
    /// Trust this PEM certificate for the ACME server's HTTPS instead of
    /// the system's roots (a test CA such as pebble's).
    #[arg(long, value_name = "PEMFILE", requires = "acme_directory")]
    pub(crate) acme_root: Option<PathBuf>,
    /// The ACME challenge: tls-alpn-01 (on the HTTPS listener) or http-01
    /// (needs --http).
    #[arg(
        long,
        value_enum,
        value_name = "CHALLENGE",
        default_value_t = ChallengeArg::TlsAlpn01,
        requires = "acme_directory",
        requires_if("http-01", "http")
    )]
    pub(crate) acme_challenge: ChallengeArg,
    /// Serve Prometheus metrics (GET /metrics, plain HTTP, no
    /// authentication) on this address.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) metrics: Option<SocketAddr>,
    /// Connections served at once (HTTPS and HTTP); more wait in the
    /// listen backlog.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,
    /// Keep reports received by POST /v1/tlsrpt at most N days ago
    /// (pruned at most once an hour); 0 keeps everything.
    #[arg(long, value_name = "N", default_value_t = mtasts_site::inbox::DEFAULT_RETAIN_DAYS)]
    pub(crate) retain_days: u32,
    /// Where alerts (from stored reports and probes) are delivered.
    #[command(flatten)]
    pub(crate) alerts: crate::alerts_cmd::AlertChannelArgs,
    /// How often every hosted domain is probed.
    #[command(flatten)]
    pub(crate) probe: crate::alerts_cmd::ProbeEveryArgs,
    /// Log more: `-v` debug events, `-vv` trace events (default: info).
    #[arg(short, long, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Log lines on stderr as `text` (`info: message key=value ...`) or
    /// `json` (one object per line).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// `--acme-challenge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ChallengeArg {
    /// TLS-ALPN-01 (RFC 8737) on the HTTPS listener.
    #[value(name = "tls-alpn-01")]
    TlsAlpn01,
    /// HTTP-01 on the --http listener.
    #[value(name = "http-01")]
    Http01,
}

impl ServeArgs {
    /// The server configuration.
    fn config(&self) -> ServeConfig {
        let mut c = ServeConfig::new(self.https);
        c.http = self.http;
        c.metrics = self.metrics;
        c.cert_dir = self.cert_dir.clone();
        c.max_connections = usize::try_from(self.max_connections).unwrap_or(usize::MAX);
        c.inbox.retain_days = (self.retain_days > 0).then_some(self.retain_days);
        c.acme = self.acme_directory.as_ref().map(|dir| {
            let mut a = AcmeConfig::new(dir.clone(), node_id());
            a.contact = self.acme_contact.clone();
            a.server_roots = self.acme_root.clone();
            a.challenge = match self.acme_challenge {
                ChallengeArg::TlsAlpn01 => Challenge::TlsAlpn01,
                ChallengeArg::Http01 => Challenge::Http01,
            };
            a
        });
        c
    }
}

/// This node's name in ACME order claims: the host name and process id.
fn node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 255)
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// `mtasts serve` (`json`: the global `--json`; the server logs as
/// `--log-format` says).
pub(crate) fn run(args: &ServeArgs, _json: bool) -> Result<()> {
    logging::install(args.verbose, args.log_format)?;
    if let Some(dir) = &args.cert_dir {
        std::fs::read_dir(dir)
            .with_context(|| format!("certificate directory {}", dir.display()))?;
    }
    if let Some(root) = &args.acme_root {
        std::fs::metadata(root).with_context(|| format!("ACME root {}", root.display()))?;
    }
    let store = mtasts_site::store::open(&args.store.location()).context("site store")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let r = runtime.block_on(serve(args, Arc::clone(&store)));
    drop(runtime);
    drop(store);
    r
}

async fn serve(args: &ServeArgs, store: Arc<dyn mtasts_site::store::SiteStore>) -> Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let alerter = Arc::new(
        mtasts_site::alerts::Alerter::new(Arc::clone(&store), args.alerts.config(None))
            .context("alert channels")?,
    );
    let mut config = args.config();
    config.inbox.alerter = Some(Arc::clone(&alerter));
    let server = Server::start(config, Arc::clone(&store)).await?;
    let delivery = mtasts_site::alerts::spawn_delivery(
        Arc::clone(&alerter),
        mtasts_site::alerts::DELIVERY_INTERVAL,
        stop_rx.clone(),
    );
    let probes = args.probe.every().map(|every| {
        mtasts_site::alerts::probe::spawn(
            Arc::clone(&store),
            mtasts_site::alerts::probe::ProbeConfig::default(),
            Arc::clone(&alerter),
            every,
            stop_rx.clone(),
        )
    });
    loop {
        tokio::select! {
            _ = hup.recv() => {
                if let Err(e) = server.reload().await {
                    warn!(error = %Chain(&e), "reload failed");
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    info!("shutting down");
    let _ = stop_tx.send(true);
    server.shutdown().await;
    let _ = delivery.await;
    if let Some(p) = probes {
        let _ = p.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(a: &[&str]) -> Result<ServeArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("serve").chain(a.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn flags() {
        let a = parse(&["--state", "/s", "--https", "127.0.0.1:8443"]).unwrap();
        let c = a.config();
        assert_eq!(c.https, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(c.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert!(c.acme.is_none() && c.http.is_none() && c.cert_dir.is_none());
        let a = parse(&[
            "--database",
            "postgresql://x@127.0.0.1/db",
            "--https",
            "[::]:443",
            "--http",
            "[::]:80",
            "--acme-directory",
            "https://acme.test/dir",
            "--acme-contact",
            "mailto:a@example.com",
            "--acme-challenge",
            "http-01",
            "--acme-root",
            "/r.pem",
            "--max-connections",
            "7",
            "--metrics",
            "127.0.0.1:9464",
        ])
        .unwrap();
        let c = a.config();
        let acme = c.acme.unwrap();
        assert_eq!(acme.challenge, Challenge::Http01);
        assert_eq!(acme.contact, ["mailto:a@example.com"]);
        assert_eq!(
            acme.server_roots.as_deref(),
            Some(std::path::Path::new("/r.pem"))
        );
        assert!(acme.node_id.ends_with(&format!(":{}", std::process::id())));
        assert_eq!(c.max_connections, 7);
        assert_eq!(c.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(c.inbox.retain_days, Some(400));
        assert_eq!(
            a.probe.every(),
            Some(std::time::Duration::from_secs(6 * 3600))
        );
        let a = parse(&[
            "--state",
            "/s",
            "--https",
            "127.0.0.1:1",
            "--retain-days",
            "0",
            "--probe-every",
            "0",
            "--alert-webhook",
            "https://hooks.example/x",
        ])
        .unwrap();
        assert_eq!(a.config().inbox.retain_days, None);
        assert_eq!(a.probe.every(), None);
        assert_eq!(
            a.alerts.config(None).webhook.as_deref(),
            Some("https://hooks.example/x")
        );
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &["--https", "127.0.0.1:1"][..],
            &["--state", "/s"],
            &["--state", "/s", "--database", "x", "--https", "127.0.0.1:1"],
            &["--state", "/s", "--https", "nowhere"],
            &[
                "--state",
                "/s",
                "--https",
                "127.0.0.1:1",
                "--acme-directory",
                "u",
            ],
            &[
                "--state",
                "/s",
                "--https",
                "127.0.0.1:1",
                "--acme-contact",
                "mailto:a@b",
            ],
            &[
                "--state",
                "/s",
                "--https",
                "127.0.0.1:1",
                "--acme-directory",
                "u",
                "--acme-contact",
                "mailto:a@b",
                "--acme-challenge",
                "http-01",
            ],
            &[
                "--state",
                "/s",
                "--https",
                "127.0.0.1:1",
                "--max-connections",
                "0",
            ],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
