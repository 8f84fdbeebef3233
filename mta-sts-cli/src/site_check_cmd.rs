//! `mtasts domain verify` and `mtasts domain promote` (SKELETON: H4).

use anyhow::Result;
use clap::Args;

use crate::domain_cmd::StoreArgs;

/// Arguments of `mtasts domain verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
}

/// Arguments of `mtasts domain promote`.
#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
}

/// `mtasts domain verify`.
pub(crate) fn verify(_args: &VerifyArgs, _json: bool) -> Result<()> {
    anyhow::bail!("SKELETON: not built yet")
}

/// `mtasts domain promote`.
pub(crate) fn promote(_args: &PromoteArgs, _json: bool) -> Result<()> {
    anyhow::bail!("SKELETON: not built yet")
}
