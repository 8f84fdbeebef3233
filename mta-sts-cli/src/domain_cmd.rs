//! `mtasts domain ...`: manage the domains of a hosted MTA-STS site
//! (SKELETON: H1 writes add/set/remove/list/show/records/configure).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::site_check_cmd;

/// Where the site store is: exactly one of `--state DIR` or
/// `--database URL`.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct StoreArgs {
    /// The directory of the embedded site store (`DIR/site.sqlite3`).
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// A PostgreSQL connection string shared by several hosting nodes
    /// (postgres://user@host/db).
    #[arg(long, value_name = "URL")]
    pub(crate) database: Option<String>,
}

impl StoreArgs {
    /// The store location.
    pub(crate) fn location(&self) -> mtasts_site::store::StoreLocation {
        use mtasts_site::store::StoreLocation;
        match (&self.state, &self.database) {
            (_, Some(url)) => StoreLocation::Database(url.clone()),
            (Some(dir), None) => StoreLocation::State(dir.clone()),
            (None, None) => StoreLocation::State(PathBuf::from(".")),
        }
    }
}

/// `mtasts domain` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DomainCommand {
    /// Check the live DNS of a hosted domain against the site: _mta-sts id, mta-sts CNAME, _smtp._tls rua, MX coverage.
    Verify(site_check_cmd::VerifyArgs),
    /// Move a hosted domain from testing to enforce when it is safe.
    Promote(site_check_cmd::PromoteArgs),
}

/// Run a `mtasts domain` subcommand.
pub(crate) fn run(cmd: &DomainCommand, json: bool) -> Result<()> {
    match cmd {
        DomainCommand::Verify(a) => site_check_cmd::verify(a, json),
        DomainCommand::Promote(a) => site_check_cmd::promote(a, json),
    }
}
