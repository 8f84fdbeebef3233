//! `mtasts serve` (SKELETON: H2).

use anyhow::Result;
use clap::Args;

use crate::domain_cmd::StoreArgs;

/// Arguments of `mtasts serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// `mtasts serve`.
pub(crate) fn run(_args: &ServeArgs, _json: bool) -> Result<()> {
    anyhow::bail!("SKELETON: not built yet")
}
