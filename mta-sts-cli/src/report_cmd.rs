//! `mtasts report parse|summarize|export`: TLS-RPT reports (RFC 8460).
//!
//! Every input is read through [`tlsrpt_core::input::read_report`], which
//! detects the shape from the content (JSON, gzip magic bytes, e-mail
//! header lines), never from the file name.
//!
//! `summarize` and `export` take files, directories and `-` (one input on
//! stdin). Every path on the command line must exist: a missing one fails
//! the command before anything is read. A path on the command line is
//! followed if it is a symbolic link, and read whatever it is (a FIFO such
//! as `<(zcat r.json.gz)` too) unless it is a directory. Directories are
//! walked recursively, entries in sorted order; regular files (and
//! symbolic links to them) are read, whatever their name; an empty one is
//! not even opened (pseudo-files such as `/proc/kmsg` have size 0 and
//! block). Inside the walk, symbolic links to directories are not followed
//! (no cycles), special files (FIFOs, sockets, devices, links to them) are
//! skipped without being opened and directories on another file system
//! (`/proc`, `/sys` below `/`) are not entered, each with a
//! `warning: PATH: ...` line. The walk goes at most [`MAX_DEPTH`]
//! directory levels down and collects at most [`MAX_FILES`] files; beyond
//! that, `error:` lines say what was not read.
//!
//! An input that starts with an mbox `From ` line is cut into its messages
//! ([`tlsrpt_core::input::split_mbox`]); each is read as one input, named
//! `PATH#N` (N from 1) when there are several.
//!
//! An input that is no report at all (neither JSON, gzip nor an e-mail, an
//! empty file, or an e-mail without a report part:
//! [`tlsrpt_core::input::InputError::is_not_a_report`]) is skipped with a
//! `warning: NAME: ...; skipped` line when it was found by walking a
//! directory or is one of several messages of an mbox: mailboxes and
//! report folders hold other mail too. Named on the command line (or on
//! stdin), and with `--strict-inputs` anywhere, it is a failure. A failing
//! input gets one `error: NAME: ...` line on stderr and the rest are still
//! processed; at the end a last `error: N of M inputs could not be read as
//! reports` line and status 1. Every line on stderr and every text table
//! has its control characters escaped (file names included); see
//! [`mta_sts_core::display`]. Reader warnings are listed per input with
//! `-v`, otherwise counted on one `warning: ...` line. A progress bar is
//! drawn on stderr only when stderr is a terminal and there are more than
//! [`PROGRESS_MIN_FILES`] files.
//!
//! `summarize --json` adds to the summary the filter (`filter`) and what
//! happened to every input (`inputs`: counts, errors, warnings, skipped
//! inputs, each list at most [`MAX_LISTED_INPUTS`] long). `summarize`
//! exits with status 3 when every input was read but some alert has
//! severity `error` (unless `--no-fail-on-alerts`); a failed input (status
//! 1) takes precedence.

use mta_sts_core::time::day_string;
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tlsrpt_core::alert::Severity;
use tlsrpt_core::input::{self, Limits};
use tlsrpt_core::summary::{Filter, Summary, TextOptions};
use tlsrpt_core::{Aggregator, CsvWriter, NdjsonWriter, Report, Strictness};

use crate::{
    ExportFormat, ReportExportArgs, ReportFilesArgs, ReportFilterArgs, ReportLimitArgs,
    ReportParseArgs, ReportSummarizeArgs,
};
use crate::{input as cli_input, output};

/// More files than this, and stderr a terminal: show a progress bar.
const PROGRESS_MIN_FILES: usize = 50;

/// The exit status of `report summarize` when an alert has severity
/// `error` (and every input was read).
pub(crate) const EXIT_ALERTS: i32 = 3;

/// At most this many errors, warnings and skipped inputs are listed in
/// `summarize --json` (each list); `inputs.omitted` counts the rest.
const MAX_LISTED_INPUTS: usize = 10_000;

/// The [`Limits`] for the command line: the defaults, or `--max-size` for
/// the report JSON and e-mail parts with room for the e-mail around them.
pub(crate) fn limits(args: &ReportLimitArgs) -> Limits {
    let mut limits = Limits::default();
    if let Some(n) = args.max_size {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        limits.max_decompressed = n;
        limits.max_attachment = n;
        limits.max_message = limits.max_message.max(n.saturating_mul(2));
    }
    limits
}

/// `--since` and `--until`: a UTC day `YYYY-MM-DD` as its day number.
pub(crate) fn parse_day(s: &str) -> Result<i64, String> {
    <&[u8; 10]>::try_from(s.as_bytes())
        .ok()
        .and_then(mta_sts_core::time::canonical_day)
        .ok_or_else(|| format!("`{s}` is not a date YYYY-MM-DD (UTC)"))
}

/// The core [`Filter`] of `--since`, `--until` and `--domain`.
pub(crate) fn filter(args: &ReportFilterArgs) -> Filter {
    let mut f = Filter::new();
    if let Some(d) = args.since {
        f = f.since(d);
    }
    if let Some(d) = args.until {
        f = f.until(d);
    }
    for d in &args.domains {
        f = f.policy_domain(d);
    }
    f
}

/// Something wrong with one input (or with the walk): where, and what.
#[derive(Debug, Clone, Serialize)]
struct Problem {
    /// The input: a path, `<stdin>`, `PATH#N` for an mbox message; `None`
    /// when it concerns no single input (the walk stopped).
    source: Option<String>,
    /// What happened.
    message: String,
}

impl Problem {
    /// A problem of the input `source`.
    fn at(source: impl fmt::Display, message: impl fmt::Display) -> Self {
        Self {
            source: Some(source.to_string()),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{s}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// One warning about one input, for `--json`.
#[derive(Debug, Clone, Serialize)]
struct InputWarning {
    /// The input.
    source: String,
    /// The warning's stable code (`mislabelled-part`, `mx-host-string`).
    code: &'static str,
    /// The JSON Pointer of the report member, for the JSON reader's
    /// warnings.
    path: Option<String>,
    /// What happened.
    message: String,
    /// The line written on stderr after `NAME: `.
    #[serde(skip)]
    text: String,
}

/// A report read from one input.
struct ReadReport {
    /// The report.
    report: Report<'static>,
    /// Extraction warnings, then the JSON reader's warnings.
    warnings: Vec<InputWarning>,
}

/// The strictness of the JSON reader.
fn strictness(strict: bool) -> Strictness {
    if strict {
        Strictness::Strict
    } else {
        Strictness::Lenient
    }
}

/// Read `path` (or stdin for `-`) whole, up to the largest input accepted.
/// Errors name the input.
fn read_bytes(path: &Path, limits: &Limits) -> Result<cli_input::Input, Problem> {
    // Nothing larger than an e-mail message (or an mbox of that size) is
    // ever accepted.
    let cap = limits.max_message.max(limits.max_decompressed);
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    let input = cli_input::read_capped(path, cap).map_err(|e| {
        // `read_capped` prefixes the input's name.
        let message = format!("{e:#}");
        match message.strip_prefix(&format!("{name}: ")) {
            Some(m) => Problem::at(&name, m),
            None => Problem::at(&name, message),
        }
    })?;
    if input.bytes.len() > cap {
        return Err(Problem::at(
            &input.name,
            format_args!("input is larger than the limit of {cap} bytes"),
        ));
    }
    Ok(input)
}

/// Why a report could not be read from an input.
enum ReadError {
    /// The input is no report at all (see the module docs).
    NotAReport(Problem),
    /// A broken report, or one too large.
    Failed(Problem),
}

/// Parse the report in `bytes`, read from the input `name`.
fn parse_input(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    strict: bool,
) -> Result<ReadReport, ReadError> {
    let options = input::ReadOptions {
        limits: *limits,
        strictness: strictness(strict),
    };
    let read = input::read_report(bytes, &options).map_err(|e| {
        let p = Problem::at(name, &e);
        if e.is_not_a_report() {
            ReadError::NotAReport(p)
        } else {
            ReadError::Failed(p)
        }
    })?;
    let mut warnings: Vec<InputWarning> = read
        .value
        .extracted
        .warnings
        .iter()
        .map(|w| InputWarning {
            source: name.to_owned(),
            code: w.code.as_str(),
            path: None,
            message: w.message.clone(),
            text: w.to_string(),
        })
        .collect();
    warnings.extend(read.warnings.iter().map(|w| InputWarning {
        source: name.to_owned(),
        code: w.code.as_str(),
        path: Some(w.path.to_string()),
        message: w.message.to_string(),
        text: w.to_string(),
    }));
    Ok(ReadReport {
        report: read.value.report,
        warnings,
    })
}

/// `mtasts report parse`: the report in strict RFC form on stdout (the
/// same with or without `--json`), warnings on stderr.
pub(crate) fn parse(args: &ReportParseArgs) -> Result<()> {
    let limits = limits(&args.limits);
    let input = read_bytes(&args.file, &limits).map_err(|p| anyhow!("{p}"))?;
    let read = match parse_input(&input.name, &input.bytes, &limits, args.strict) {
        Ok(r) => r,
        Err(ReadError::NotAReport(p) | ReadError::Failed(p)) => bail!("{p}"),
    };
    for w in &read.warnings {
        output::warning(format!("{}: {}", input.name, w.text));
    }
    let mut text = read.report.to_json(true);
    text.push('\n');
    output::stdout(&text)
}

/// How deep below a directory given on the command line the walk goes:
/// deeper directories are not read (an `error:` line each).
const MAX_DEPTH: usize = 32;

/// How many entries (files to read and failures) one command collects at
/// most: when the walk reaches it, it stops with one `error:` line.
const MAX_FILES: usize = 1_000_000;

/// The bounds of a directory walk.
#[derive(Debug, Clone, Copy)]
struct WalkLimits {
    /// See [`MAX_DEPTH`].
    max_depth: usize,
    /// See [`MAX_FILES`].
    max_files: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        Self {
            max_depth: MAX_DEPTH,
            max_files: MAX_FILES,
        }
    }
}

/// One entry of the file list.
#[derive(Debug)]
enum Entry {
    /// A file found by walking a directory.
    File(PathBuf),
    /// A regular file of size 0 found by walking: read as empty input
    /// without being opened, since pseudo-files of that size (`/proc/kmsg`)
    /// can block or hand out data meant for someone else.
    Empty(PathBuf),
    /// A file named on the command line, or `-` for stdin.
    Named(PathBuf),
    /// A path that could not be listed or read (one `error:` line, counted
    /// as a failure).
    Failed(Problem),
}

/// The result of [`collect_files`]: what to read, and what was skipped.
#[derive(Debug, Default)]
struct Collected {
    /// Files and failures, in order.
    entries: Vec<Entry>,
    /// `(PATH, why)` for every path skipped (special files, symbolic links
    /// to directories, other file systems) and every directory without
    /// files, printed as `warning:` lines.
    warnings: Vec<(String, String)>,
    /// The walk hit [`WalkLimits::max_files`].
    full: bool,
}

/// What kind of non-regular, non-directory file `t` is, for messages.
fn special_kind(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    "a special file"
}

/// The file system a file lives on, where the platform says.
fn device(m: &fs::Metadata) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some(m.dev())
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

impl Collected {
    /// Add an entry unless the walk is full; `false` once it is (the walk
    /// then stops, with one failure saying so).
    fn push(&mut self, entry: Entry, limits: WalkLimits) -> bool {
        if self.full {
            return false;
        }
        if self.entries.len() >= limits.max_files {
            self.full = true;
            self.entries.push(Entry::Failed(Problem {
                source: None,
                message: format!(
                    "more than {} files: the walk stopped here, the rest was not read",
                    limits.max_files
                ),
            }));
            return false;
        }
        self.entries.push(entry);
        true
    }

    /// A regular file found by walking (also through a symbolic link).
    fn push_file(&mut self, path: PathBuf, meta: &fs::Metadata, limits: WalkLimits) -> bool {
        let entry = if meta.len() == 0 {
            Entry::Empty(path)
        } else {
            Entry::File(path)
        };
        self.push(entry, limits)
    }
}

/// The files named by `paths`, directories expanded (see the module
/// documentation); an error, before anything is read, when a path does
/// not exist (or cannot be looked at), or `-` is given twice.
///
/// A path given on the command line is followed if it is a symbolic link
/// and read whatever it is (a FIFO such as `<(zcat r.json.gz)` included),
/// unless it is a directory, which is walked: inside it, symbolic links to
/// directories are not followed, special files (FIFOs, sockets, devices)
/// are skipped without being opened, and directories on another file
/// system are not entered (each with a warning); directories deeper than
/// `limits.max_depth` and entries beyond `limits.max_files` are failures.
fn collect_files(paths: &[PathBuf], limits: WalkLimits) -> Result<Collected> {
    let mut kinds = Vec::with_capacity(paths.len());
    let mut stdin = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin, true) {
                bail!("-: stdin can be read only once");
            }
            kinds.push(None);
            continue;
        }
        let m = fs::metadata(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        kinds.push(Some(m));
    }
    let mut c = Collected::default();
    for (path, meta) in paths.iter().zip(kinds) {
        if c.full {
            break;
        }
        match meta {
            Some(m) if m.is_dir() => {
                let before = c.entries.len();
                walk(path, device(&m), 0, limits, &mut c);
                if c.entries.len() == before {
                    c.warnings.push((
                        path.display().to_string(),
                        "no files in this directory".to_owned(),
                    ));
                }
            }
            _ => {
                c.push(Entry::Named(path.clone()), limits);
            }
        }
    }
    Ok(c)
}

/// Append the files under `dir` (at `depth` below a command-line
/// directory on file system `dev`), sorted by name, depth first; `false`
/// when the walk is full.
fn walk(dir: &Path, dev: Option<u64>, depth: usize, limits: WalkLimits, c: &mut Collected) -> bool {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd.collect::<io::Result<Vec<_>>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(e) => return c.push(Entry::Failed(Problem::at(dir.display(), e)), limits),
    };
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        // Not followed: the type of the entry itself.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                if !c.push(Entry::Failed(Problem::at(path.display(), e)), limits) {
                    return false;
                }
                continue;
            }
        };
        let file_type = meta.file_type();
        let more = if file_type.is_dir() {
            if dev.is_some() && device(&meta) != dev {
                c.warnings.push((
                    path.display().to_string(),
                    "on another file system; not walked".to_owned(),
                ));
                true
            } else if depth >= limits.max_depth {
                c.push(
                    Entry::Failed(Problem::at(
                        path.display(),
                        format_args!(
                            "more than {} directory levels deep; not read",
                            limits.max_depth
                        ),
                    )),
                    limits,
                )
            } else {
                walk(&path, dev, depth + 1, limits, c)
            }
        } else if file_type.is_file() {
            c.push_file(path, &meta, limits)
        } else if file_type.is_symlink() {
            // Links to regular files are read; a broken link or a loop is
            // a failure; links to anything else are skipped.
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => c.push_file(path, &m, limits),
                Ok(m) if m.is_dir() => {
                    c.warnings.push((
                        path.display().to_string(),
                        "symbolic link to a directory; not followed".to_owned(),
                    ));
                    true
                }
                Ok(m) => {
                    c.warnings.push((
                        path.display().to_string(),
                        format!("symbolic link to {}; skipped", special_kind(m.file_type())),
                    ));
                    true
                }
                Err(e) => c.push(Entry::Failed(Problem::at(path.display(), e)), limits),
            }
        } else {
            c.warnings.push((
                path.display().to_string(),
                format!("{}, not a regular file; skipped", special_kind(file_type)),
            ));
            true
        };
        if !more {
            return false;
        }
    }
    true
}

/// What happened to the inputs of `summarize` and `export`, as
/// `summarize --json` lists it under `inputs`.
#[derive(Debug, Default, Serialize)]
struct InputsRecord {
    /// Reports read (duplicates included).
    reports_read: u64,
    /// Inputs that could not be read as reports.
    failed: u64,
    /// Inputs skipped: no report at all, special files and the like.
    skipped: u64,
    /// Every failure: the input and why.
    errors: Vec<Problem>,
    /// Every reader warning.
    warnings: Vec<InputWarning>,
    /// Every input skipped, and why.
    skipped_inputs: Vec<Problem>,
    /// Entries not listed above because a list reached
    /// [`MAX_LISTED_INPUTS`].
    omitted: u64,
}

impl InputsRecord {
    /// Append `item` to `list` unless it is full (then count it).
    fn list<T>(list: &mut Vec<T>, omitted: &mut u64, item: T) {
        if list.len() < MAX_LISTED_INPUTS {
            list.push(item);
        } else {
            *omitted = omitted.saturating_add(1);
        }
    }
}

/// Reads the inputs of `summarize` and `export` one by one, printing
/// failures and warnings, and keeps count.
pub(crate) struct Batch {
    /// The files, or errors for paths that could not be listed.
    entries: Vec<Entry>,
    /// How many inputs there were (an mbox counts once per message).
    total: usize,
    /// Input limits.
    limits: Limits,
    /// List warnings per input.
    verbose: bool,
    /// Inputs that are no report are failures too.
    strict_inputs: bool,
    /// The progress bar (hidden unless stderr is a terminal and there are
    /// many files).
    bar: ProgressBar,
    /// Inputs with warnings.
    warned_inputs: usize,
    /// Their warnings.
    warnings: usize,
    /// What happened, for `--json`.
    record: InputsRecord,
}

impl Batch {
    /// Collect the files of `args`; print a warning for every path
    /// skipped. Fails when a path on the command line does not exist.
    pub(crate) fn new(args: &ReportFilesArgs) -> Result<Self> {
        let collected = collect_files(&args.paths, WalkLimits::default())?;
        let mut record = InputsRecord::default();
        for (path, why) in collected.warnings {
            output::warning(format_args!("{path}: {why}"));
            record.skipped += 1;
            InputsRecord::list(
                &mut record.skipped_inputs,
                &mut record.omitted,
                Problem::at(path, why),
            );
        }
        let entries = collected.entries;
        let total = entries.len();
        let bar = if total > PROGRESS_MIN_FILES && io::stderr().is_terminal() {
            let bar = ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX));
            if let Ok(style) = ProgressStyle::with_template("[{bar:40}] {pos}/{len} files") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Ok(Self {
            entries,
            total,
            limits: limits(&args.limits),
            verbose: args.verbose,
            strict_inputs: args.strict_inputs,
            bar,
            warned_inputs: 0,
            warnings: 0,
            record,
        })
    }

    /// Count and print a failure.
    fn fail(&mut self, p: Problem) {
        self.record.failed += 1;
        self.bar.suspend(|| output::error(&anyhow!("{p}")));
        InputsRecord::list(&mut self.record.errors, &mut self.record.omitted, p);
    }

    /// Count and print an input skipped because it is no report.
    fn skip(&mut self, p: Problem) {
        self.record.skipped += 1;
        self.bar
            .suspend(|| output::warning(format_args!("{p}; skipped")));
        InputsRecord::list(&mut self.record.skipped_inputs, &mut self.record.omitted, p);
    }

    /// Read every input and hand each report to `f` with the input's name
    /// and the progress bar (to suspend while writing to a terminal); `f`
    /// returns `Ok(false)` to stop early (stdout closed).
    pub(crate) fn run(
        &mut self,
        mut f: impl FnMut(&ProgressBar, &str, &Report<'static>) -> Result<bool>,
    ) -> Result<()> {
        for entry in std::mem::take(&mut self.entries) {
            let (path, walked) = match entry {
                Entry::File(path) => (path, true),
                Entry::Named(path) => (path, false),
                Entry::Empty(path) => {
                    self.bar.inc(1);
                    let name = path.display().to_string();
                    if !self.read_message(&name, &[], true, &mut f)? {
                        break;
                    }
                    continue;
                }
                Entry::Failed(p) => {
                    self.bar.inc(1);
                    self.fail(p);
                    continue;
                }
            };
            let input = read_bytes(&path, &self.limits);
            self.bar.inc(1);
            let input = match input {
                Ok(input) => input,
                Err(p) => {
                    self.fail(p);
                    continue;
                }
            };
            let messages = input::split_mbox(&input.bytes);
            let several = messages.len() > 1;
            self.total = self.total.saturating_add(messages.len() - 1);
            let mut open = true;
            for (i, m) in messages.iter().enumerate() {
                let name = if several {
                    format!("{}#{}", input.name, i + 1)
                } else {
                    input.name.clone()
                };
                open = self.read_message(&name, m, walked || several, &mut f)?;
                if !open {
                    break;
                }
            }
            if !open {
                break;
            }
        }
        self.bar.finish_and_clear();
        Ok(())
    }

    /// Read the report in `bytes` (the input `name`) and hand it to `f`;
    /// `may_skip`: an input that is no report is skipped rather than
    /// failed (unless `--strict-inputs`). `Ok(false)` to stop.
    fn read_message(
        &mut self,
        name: &str,
        bytes: &[u8],
        may_skip: bool,
        f: &mut impl FnMut(&ProgressBar, &str, &Report<'static>) -> Result<bool>,
    ) -> Result<bool> {
        let r = match parse_input(name, bytes, &self.limits, false) {
            Ok(r) => r,
            Err(ReadError::NotAReport(p)) if may_skip && !self.strict_inputs => {
                self.skip(p);
                return Ok(true);
            }
            Err(ReadError::NotAReport(p) | ReadError::Failed(p)) => {
                self.fail(p);
                return Ok(true);
            }
        };
        self.record.reports_read += 1;
        if !r.warnings.is_empty() {
            self.warned_inputs += 1;
            self.warnings += r.warnings.len();
            if self.verbose {
                self.bar.suspend(|| {
                    for w in &r.warnings {
                        output::warning(format!("{name}: {}", w.text));
                    }
                });
            }
        }
        for w in r.warnings {
            InputsRecord::list(&mut self.record.warnings, &mut self.record.omitted, w);
        }
        f(&self.bar, name, &r.report)
    }

    /// The closing lines: the warning count (without `-v`), and an error
    /// when some inputs failed.
    pub(crate) fn finish(&self) -> Result<()> {
        if !self.verbose && self.warnings > 0 {
            output::warning(format!(
                "{} {} had {} {} (use -v)",
                self.warned_inputs,
                plural(self.warned_inputs, "input", "inputs"),
                self.warnings,
                plural(self.warnings, "warning", "warnings"),
            ));
        }
        if self.record.failed > 0 {
            bail!(
                "{} of {} {} could not be read as reports",
                self.record.failed,
                self.total,
                plural(self.total, "input", "inputs")
            );
        }
        Ok(())
    }
}

/// `one` or `many` by `n`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The filter of `summarize --json`, as given.
#[derive(Debug, Serialize)]
struct FilterRecord {
    /// `--since` (`YYYY-MM-DD`).
    since: Option<String>,
    /// `--until`.
    until: Option<String>,
    /// `--domain`, normalised.
    domains: Vec<String>,
}

/// The JSON of `summarize --json`: the summary, then the filter and the
/// inputs.
#[derive(Serialize)]
struct SummaryJson<'a> {
    /// The summary's members, at the top level.
    #[serde(flatten)]
    summary: &'a Summary,
    /// `--since`, `--until`, `--domain`.
    filter: FilterRecord,
    /// What happened to every input (not with `--state`/`--database`).
    #[serde(skip_serializing_if = "Option::is_none")]
    inputs: Option<&'a InputsRecord>,
    /// The store's counts (with `--state`/`--database`).
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<mtasts_site::inbox::store::InboxStats>,
}

/// `mtasts report summarize`: the [`Summary`] of every readable report,
/// as JSON or text tables. Exits with [`EXIT_ALERTS`] when every input was
/// read and an alert has severity `error` (unless
/// `--no-fail-on-alerts`).
pub(crate) fn summarize(args: &ReportSummarizeArgs, json: bool) -> Result<()> {
    let max_groups = usize::try_from(args.max_groups).unwrap_or(usize::MAX);
    let filter = filter(&args.filter);
    let (summary, batch, stats) = match crate::ingest_cmd::location(&args.store) {
        Some(location) => {
            let (summary, stats) = crate::ingest_cmd::store_summary(
                &location,
                &filter,
                max_groups,
                args.readiness_days,
            )?;
            (summary, None, Some(stats))
        }
        None => {
            let mut batch = Batch::new(&args.files)?;
            let mut agg = Aggregator::with_max_groups(max_groups)
                .filter(filter.clone())
                .readiness_window(args.readiness_days, args.filter.until);
            batch.run(|_, name, report| {
                agg.add(report, name);
                Ok(true)
            })?;
            (agg.into_summary(), Some(batch), None)
        }
    };
    for (grouping, n) in &summary.folded {
        output::warning(format_args!(
            "{grouping}: more than {} distinct keys; {n} addition(s) counted under {} (--max-groups)",
            args.max_groups,
            tlsrpt_core::summary::OTHER
        ));
    }
    if json {
        output::json(&SummaryJson {
            summary: &summary,
            filter: FilterRecord {
                since: filter.since.map(day_string),
                until: filter.until.map(day_string),
                domains: filter.policy_domains.clone(),
            },
            inputs: batch.as_ref().map(|b| &b.record),
            store: stats,
        })?;
    } else {
        let mut options = TextOptions::new();
        if let Some(n) = args.top {
            options = options.top(usize::try_from(n).unwrap_or(usize::MAX));
        }
        output::text(&summary.render_text_with(&options))?;
    }
    if let Some(batch) = &batch {
        batch.finish()?;
    }
    let errors = summary
        .alerts
        .iter()
        .filter(|a| a.severity == Severity::Error)
        .count();
    if errors > 0 && !args.no_fail_on_alerts {
        output::error(&anyhow!(
            "{errors} {} of severity error (exit status {EXIT_ALERTS}; --no-fail-on-alerts for 0)",
            plural(errors, "alert", "alerts")
        ));
        // stdout is flushed; nothing else is left to do or to drop.
        std::process::exit(EXIT_ALERTS);
    }
    Ok(())
}

/// The writer of `report export`.
pub(crate) enum Writer {
    /// CSV, header first.
    Csv(CsvWriter),
    /// NDJSON with `source`.
    Ndjson(NdjsonWriter),
}

/// `mtasts report export`: flat rows on stdout, written report by report.
pub(crate) fn export(args: &ReportExportArgs) -> Result<()> {
    let mut writer = match (args.format, args.formula_guard) {
        (ExportFormat::Csv, false) => Writer::Csv(CsvWriter::new()),
        (ExportFormat::Csv, true) => Writer::Csv(CsvWriter::with_formula_guard()),
        (ExportFormat::Ndjson, _) => Writer::Ndjson(NdjsonWriter::new()),
    };
    if let Some(location) = crate::ingest_cmd::location(&args.store) {
        return crate::ingest_cmd::store_export(&location, &filter(&args.filter), writer);
    }
    let mut batch = Batch::new(&args.files)?;
    let filter = filter(&args.filter);
    // (organization-name, report-id) -> the input it was first read from.
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    let mut open = true;
    batch.run(|bar, name, report| {
        let Some(report) = filter.apply(report) else {
            return Ok(true);
        };
        let key = (
            report.organization_name.to_string(),
            report.report_id.to_string(),
        );
        if let Some(first) = seen.get(&key) {
            bar.suspend(|| {
                output::warning(format!(
                    "{name}: same report as {first} (organization-name and report-id); not exported again"
                ));
            });
            return Ok(true);
        }
        seen.insert(key, name.to_owned());
        let text = match &mut writer {
            Writer::Csv(w) => {
                w.write_report(&report);
                w.take()
            }
            Writer::Ndjson(w) => {
                w.write_report(&report, Some(name));
                w.take()
            }
        };
        open = bar.suspend(|| output::stdout_open(&text))?;
        Ok(open)
    })?;
    // The CSV header, when no report was written.
    if let (true, Writer::Csv(w)) = (open, &mut writer) {
        output::stdout(&w.take())?;
    }
    batch.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_lists_stop_at_max_listed_inputs_and_count_the_rest() {
        let mut list = Vec::new();
        let mut omitted = 0;
        for i in 0..MAX_LISTED_INPUTS + 5 {
            InputsRecord::list(&mut list, &mut omitted, i);
        }
        assert_eq!(list.len(), MAX_LISTED_INPUTS);
        assert_eq!(list.last(), Some(&(MAX_LISTED_INPUTS - 1)));
        assert_eq!(omitted, 5);
    }

    /// A fresh temporary directory for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mtasts-report-cmd-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The walk's warnings as the `PATH: why` lines printed.
    fn warnings(c: &Collected) -> Vec<String> {
        c.warnings
            .iter()
            .map(|(p, w)| format!("{p}: {w}"))
            .collect()
    }

    /// `(kind, path or message)` of every entry, paths relative to `dir`.
    fn entries(c: &Collected, dir: &Path) -> Vec<(&'static str, String)> {
        let rel = |p: &Path| p.strip_prefix(dir).unwrap().display().to_string();
        c.entries
            .iter()
            .map(|e| match e {
                Entry::File(p) => ("file", rel(p)),
                Entry::Named(p) => ("named", rel(p)),
                Entry::Empty(p) => ("empty", rel(p)),
                Entry::Failed(e) => (
                    "failed",
                    e.to_string().replace(&*dir.display().to_string(), ""),
                ),
            })
            .collect()
    }

    /// Issue 15 item 7: a FIFO, a socket-like special file, links to
    /// directories (a loop), a link loop and a broken link inside a walked
    /// directory are reported, never opened or followed.
    #[cfg(unix)]
    #[test]
    fn walk_skips_special_files_and_does_not_follow_directory_links() {
        use std::os::unix::fs::symlink;
        let dir = temp_dir("special");
        fs::write(dir.join("a.json"), "{}").unwrap();
        fs::write(dir.join("empty.json"), "").unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/b.json"), "{}").unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        symlink(".", dir.join("sub/loop")).unwrap();
        symlink(dir.join("sub"), dir.join("sub-link")).unwrap();
        symlink("l2", dir.join("l1")).unwrap();
        symlink("l1", dir.join("l2")).unwrap();
        symlink("missing", dir.join("broken")).unwrap();
        symlink("fifo", dir.join("fifo-link")).unwrap();
        symlink("a.json", dir.join("z-link.json")).unwrap();
        symlink("/dev/null", dir.join("null")).unwrap();

        let c = collect_files(std::slice::from_ref(&dir), WalkLimits::default()).unwrap();
        let got = entries(&c, &dir);
        assert_eq!(got[0], ("file", "a.json".to_owned()));
        assert!(
            got[1].0 == "failed" && got[1].1.starts_with("/broken: "),
            "{got:?}"
        );
        assert_eq!(got[2], ("empty", "empty.json".to_owned()));
        assert!(
            got[3].0 == "failed" && got[3].1.starts_with("/l1: "),
            "{got:?}"
        );
        assert!(
            got[4].0 == "failed" && got[4].1.starts_with("/l2: "),
            "{got:?}"
        );
        assert_eq!(got[5], ("file", "sub/b.json".to_owned()));
        assert_eq!(got[6], ("file", "z-link.json".to_owned()));
        assert_eq!(got.len(), 7, "{got:?}");
        let d = dir.display();
        assert_eq!(
            warnings(&c),
            [
                format!("{d}/fifo: a FIFO, not a regular file; skipped"),
                format!("{d}/fifo-link: symbolic link to a FIFO; skipped"),
                format!("{d}/null: symbolic link to a character device; skipped"),
                format!("{d}/sub/loop: symbolic link to a directory; not followed"),
                format!("{d}/sub-link: symbolic link to a directory; not followed"),
            ]
        );
        assert!(!c.full);

        // A link given on the command line is followed, once.
        let c = collect_files(&[dir.join("sub-link")], WalkLimits::default()).unwrap();
        assert_eq!(entries(&c, &dir), [("file", "sub-link/b.json".to_owned())]);
        assert_eq!(
            warnings(&c),
            [format!(
                "{d}/sub-link/loop: symbolic link to a directory; not followed"
            )]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 15 item 7: the walk is bounded in depth and in size, and each
    /// bound is a failure that says what was not read.
    #[test]
    fn walk_is_bounded_in_depth_and_files() {
        let dir = temp_dir("bounds");
        let mut deep = dir.clone();
        for level in 0..4 {
            fs::write(deep.join(format!("f{level}")), "x").unwrap();
            deep = deep.join(format!("d{level}"));
            fs::create_dir(&deep).unwrap();
        }
        let limits = WalkLimits {
            max_depth: 2,
            max_files: 100,
        };
        let c = collect_files(std::slice::from_ref(&dir), limits).unwrap();
        let d = dir.display();
        assert_eq!(
            entries(&c, &dir),
            [
                (
                    "failed",
                    "/d0/d1/d2: more than 2 directory levels deep; not read".to_owned()
                ),
                ("file", "d0/d1/f2".to_owned()),
                ("file", "d0/f1".to_owned()),
                ("file", "f0".to_owned()),
            ],
            "{d}"
        );

        let limits = WalkLimits {
            max_depth: 32,
            max_files: 2,
        };
        let c = collect_files(&[dir.clone(), dir.join("f0")], limits).unwrap();
        assert!(c.full);
        assert_eq!(
            entries(&c, &dir),
            [
                ("file", "d0/d1/d2/f3".to_owned()),
                ("file", "d0/d1/f2".to_owned()),
                (
                    "failed",
                    "more than 2 files: the walk stopped here, the rest was not read".to_owned()
                ),
            ]
        );
        assert_eq!((MAX_DEPTH, MAX_FILES), (32, 1_000_000));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn max_size_sets_the_part_limits_and_twice_that_for_the_message() {
        let l = limits(&ReportLimitArgs { max_size: None });
        assert_eq!(
            (l.max_decompressed, l.max_attachment, l.max_message),
            (32 << 20, 32 << 20, 64 << 20)
        );
        let l = limits(&ReportLimitArgs {
            max_size: Some(1000),
        });
        assert_eq!(
            (l.max_decompressed, l.max_attachment, l.max_message),
            (1000, 1000, 64 << 20)
        );
        let l = limits(&ReportLimitArgs {
            max_size: Some(40_000_000),
        });
        assert_eq!(
            (l.max_decompressed, l.max_attachment, l.max_message),
            (40_000_000, 40_000_000, 80_000_000)
        );
    }
}
