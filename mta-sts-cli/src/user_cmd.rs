//! `mtasts user add|list|remove|token`: the accounts of the dashboards
//! and the JSON API of `mtasts serve` (see `mtasts_site::web`).
//!
//! `add` and `token` print the login token once: it is stored only as an
//! argon2id hash. The token is used as `Authorization: Bearer TOKEN` on
//! `/api/v1/...` and on the web login form. `token NAME` replaces the
//! token (the old one and the account's sessions stop working at once);
//! `remove NAME` deletes the account.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use mtasts_site::store::SiteStore;
use mtasts_site::web::auth;
use mtasts_site::web::users::User;
use serde_json::json;

use crate::domain_cmd::StoreArgs;
use crate::output;

/// `mtasts user ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add an account and print its login token (shown once).
    Add(UserAddArgs),
    /// List the accounts.
    List(UserListArgs),
    /// Delete an account (its token and sessions stop working).
    Remove(UserNameArgs),
    /// Give an account a new login token (the old one stops working).
    Token(UserNameArgs),
}

/// Arguments of `mtasts user add`.
#[derive(Debug, Args)]
pub(crate) struct UserAddArgs {
    /// The account name (letters, digits, `.`, `_`, `-`, `@`; at most 64).
    pub(crate) name: String,
    /// The account sees every domain.
    #[arg(long)]
    pub(crate) admin: bool,
    /// A domain the account sees (repeat for several).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub(crate) domains: Vec<String>,
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Arguments of `mtasts user list`.
#[derive(Debug, Args)]
pub(crate) struct UserListArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Arguments of `mtasts user remove|token`.
#[derive(Debug, Args)]
pub(crate) struct UserNameArgs {
    /// The account name.
    pub(crate) name: String,
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Run `mtasts user ...`.
pub(crate) fn run(cmd: &UserCommand, json: bool) -> Result<()> {
    match cmd {
        UserCommand::Add(a) => add(a, json),
        UserCommand::List(a) => list(a, json),
        UserCommand::Remove(a) => remove(a, json),
        UserCommand::Token(a) => token(a, json),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn open(args: &StoreArgs) -> Result<Arc<dyn SiteStore>> {
    mtasts_site::store::open(&args.location()).context("opening the site store")
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
    {
        bail!(
            "user add {name}: refused: an account name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
        );
    }
    Ok(())
}

fn print_token(user: &str, token: &str, json: bool) -> Result<()> {
    if json {
        output::json(&json!({ "user": user, "token": token }))
    } else {
        output::text(&format!(
            "{token}\n(the login token of {user}: shown once, keep it; `mtasts user token {user}` makes a new one)\n"
        ))
    }
}

fn add(a: &UserAddArgs, json: bool) -> Result<()> {
    check_name(&a.name)?;
    let mut domains = Vec::new();
    for d in &a.domains {
        let n = mta_sts_core::domain::normalize(d)
            .map_err(|e| anyhow!("user add {}: refused: --domain {d}: {e}", a.name))?;
        if !domains.contains(&n) {
            domains.push(n);
        }
    }
    if !a.admin && domains.is_empty() {
        output::warning(format_args!(
            "{} sees no domain (give --domain D or --admin)",
            a.name
        ));
    }
    let store = open(&a.store)?;
    let t = auth::new_token().context("making a token")?;
    let user = User {
        name: a.name.clone(),
        admin: a.admin,
        domains,
        token_id: t.id.clone(),
        token_hash: t.hash.clone(),
        created_at: now(),
    };
    store
        .users()
        .add_user(&user)
        .with_context(|| format!("user add {}: refused", a.name))?;
    print_token(&a.name, &t.token, json)
}

fn list(a: &UserListArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let users = store.users().users().context("listing the accounts")?;
    if json {
        return output::json(&json!({ "users": users }));
    }
    let mut s = String::new();
    for u in &users {
        let sees = if u.admin {
            "admin: every domain".to_owned()
        } else if u.domains.is_empty() {
            "no domain".to_owned()
        } else {
            u.domains.join(", ")
        };
        s.push_str(&format!("{}\t{sees}\n", u.name));
    }
    output::text(&s)
}

fn remove(a: &UserNameArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    if !store
        .users()
        .remove_user(&a.name)
        .context("removing the account")?
    {
        bail!("user remove {}: refused: no such account", a.name);
    }
    if json {
        output::json(&json!({ "user": a.name, "removed": true }))
    } else {
        output::text(&format!("removed {}\n", a.name))
    }
}

fn token(a: &UserNameArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let t = auth::new_token().context("making a token")?;
    if !store
        .users()
        .set_token(&a.name, &t.id, &t.hash)
        .context("storing the token")?
    {
        bail!("user token {}: refused: no such account", a.name);
    }
    print_token(&a.name, &t.token, json)
}
