//! `mtasts completions SHELL` and `mtasts man [--out DIR]`: shell
//! completion scripts (`clap_complete`) and man pages (`clap_mangen`),
//! generated from the command-line definitions of this binary, so they
//! never disagree with `--help`.
//!
//! The repository keeps the generated files in `mta-sts-cli/completions/`
//! and `mta-sts-cli/man/`; a test fails when they are stale.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::output;

/// Arguments of `mtasts completions`.
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    mtasts completions bash > ~/.local/share/bash-completion/completions/mtasts\n  \
    mtasts completions zsh > ~/.zfunc/_mtasts      (with ~/.zfunc in $fpath)\n  \
    mtasts completions fish > ~/.config/fish/completions/mtasts.fish")]
pub(crate) struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: Shell,
}

/// Arguments of `mtasts man`.
#[derive(Debug, Args)]
#[command(
    after_help = "Without --out, stdout is the page of `mtasts` itself (try \
    `mtasts man | man -l -`). With --out DIR, DIR (created if missing) gets mtasts.1 and one \
    page per command, named after it: mtasts-report-summarize.1, ..."
)]
pub(crate) struct ManArgs {
    /// Write every page (roff, section 1) into this directory instead of
    /// printing the top-level page.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// The command-line definition, as the generators see it.
fn command() -> clap::Command {
    let mut cmd = crate::Cli::command();
    cmd.build();
    cmd
}

/// The command-line definition for the man pages: without clap's `help`
/// subcommand, which needs no page of its own.
fn man_command() -> clap::Command {
    let mut cmd = crate::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `mtasts completions SHELL`: the script on stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<()> {
    let mut cmd = command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "mtasts", &mut buf);
    let text = String::from_utf8(buf).context("completion script is not UTF-8")?;
    output::stdout(&text)
}

/// `mtasts man [--out DIR]`.
pub(crate) fn man(args: &ManArgs) -> Result<()> {
    let cmd = man_command();
    match &args.out {
        None => output::stdout(&render(cmd)?),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
            for (name, page) in pages(cmd)? {
                let path = dir.join(&name);
                std::fs::write(&path, page).with_context(|| path.display().to_string())?;
            }
            Ok(())
        }
    }
}

/// The page of `cmd` (roff).
fn render(cmd: clap::Command) -> Result<String> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .source(concat!("mtasts ", env!("CARGO_PKG_VERSION")))
        .manual("mtasts manual")
        .render(&mut buf)
        .context("man page")?;
    String::from_utf8(buf).context("man page is not UTF-8")
}

/// Every page, `mtasts.1` first, then each visible subcommand at any
/// depth (`mtasts-policy.1`, `mtasts-policy-parse.1`, ...), as (file name,
/// roff text).
fn pages(cmd: clap::Command) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    collect(cmd, &mut out)?;
    Ok(out)
}

/// Add the page of `cmd` and of its visible subcommands to `out`.
fn collect(cmd: clap::Command, out: &mut Vec<(String, String)>) -> Result<()> {
    let name = format!(
        "{}.1",
        cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
    );
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    out.push((name, render(cmd)?));
    for sub in subs {
        collect(sub, out)?;
    }
    Ok(())
}
