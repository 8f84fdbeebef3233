//! `mtasts report parse|summarize|export`: TLS-RPT reports (RFC 8460).
//!
//! Every input is read through [`tlsrpt_core::input::read_report`], which
//! detects the shape from the content (JSON, gzip magic bytes, e-mail
//! header lines), never from the file name.
//!
//! `summarize` and `export` take files and directories. Directories are
//! walked recursively, entries in sorted order; regular files (and
//! symbolic links to them) are read, whatever their name, so a file that
//! is not a report is reported as a failure rather than skipped. Symbolic
//! links to directories are not followed (no cycles) and other special
//! files are skipped. A failing file gets one `error: PATH: ...` line on
//! stderr and the rest are still processed; at the end a last
//! `error: N of M files could not be read as reports` line and status 1.
//! Reader warnings are listed per file with `-v`, otherwise counted on one
//! `warning: ...` line. A progress bar is drawn on stderr only when stderr
//! is a terminal and there are more than [`PROGRESS_MIN_FILES`] files.

use std::collections::HashMap;
use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tlsrpt_core::input::{self, Limits};
use tlsrpt_core::{Aggregator, CsvWriter, NdjsonWriter, Report, Strictness};

use crate::{ExportFormat, ReportExportArgs, ReportFilesArgs, ReportLimitArgs, ReportParseArgs};
use crate::{input as cli_input, output};

/// More files than this, and stderr a terminal: show a progress bar.
const PROGRESS_MIN_FILES: usize = 50;

/// The [`Limits`] for the command line: the defaults, or `--max-size` for
/// the report JSON and e-mail parts with room for the e-mail around them.
fn limits(args: &ReportLimitArgs) -> Limits {
    let mut limits = Limits::default();
    if let Some(n) = args.max_size {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        limits.max_decompressed = n;
        limits.max_attachment = n;
        limits.max_message = limits.max_message.max(n.saturating_mul(2));
    }
    limits
}

/// A report read from one input.
struct ReadReport {
    /// How the input is named in messages: the path, or `<stdin>`.
    name: String,
    /// The report.
    report: Report<'static>,
    /// Extraction warnings, then the JSON reader's warnings, as text.
    warnings: Vec<String>,
}

/// Read and parse the report in `path` (or stdin for `-`). Errors are
/// prefixed with the input's name.
fn read(path: &Path, limits: &Limits, strict: bool) -> Result<ReadReport> {
    // Nothing larger than an e-mail message is ever accepted.
    let cap = limits.max_message.max(limits.max_decompressed);
    let input = cli_input::read_capped(path, cap)?;
    if input.bytes.len() > cap {
        bail!(
            "{}: input is larger than the limit of {cap} bytes",
            input.name
        );
    }
    let options = input::ReadOptions {
        limits: *limits,
        strictness: if strict {
            Strictness::Strict
        } else {
            Strictness::Lenient
        },
    };
    let read =
        input::read_report(&input.bytes, &options).map_err(|e| anyhow!("{}: {e}", input.name))?;
    let report = read.value.report;
    let mut warnings: Vec<String> = read
        .value
        .extracted
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    warnings.extend(read.warnings.iter().map(ToString::to_string));
    Ok(ReadReport {
        name: input.name,
        report,
        warnings,
    })
}

/// `mtasts report parse`: the report in strict RFC form on stdout (the
/// same with or without `--json`), warnings on stderr.
pub(crate) fn parse(args: &ReportParseArgs) -> Result<()> {
    let read = read(&args.file, &limits(&args.limits), args.strict)?;
    for w in &read.warnings {
        output::warning(format!("{}: {w}", read.name));
    }
    let mut text = read.report.to_json(true);
    text.push('\n');
    output::stdout(&text)
}

/// One entry of the file list: a file to read, or a path that could not
/// be listed.
type Entry = Result<PathBuf, anyhow::Error>;

/// The files named by `paths`, directories expanded (see the module
/// documentation); warns about directories without files.
fn collect_files(paths: &[PathBuf]) -> Vec<Entry> {
    let mut out = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let before = out.len();
                walk(path, &mut out);
                if out.len() == before {
                    output::warning(format!("{}: no files in this directory", path.display()));
                }
            }
            Ok(_) => out.push(Ok(path.clone())),
            Err(e) => out.push(Err(anyhow!("{}: {e}", path.display()))),
        }
    }
    out
}

/// Append the files under `dir`, sorted by name, depth first.
fn walk(dir: &Path, out: &mut Vec<Entry>) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd.collect::<io::Result<Vec<_>>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(e) => {
            out.push(Err(anyhow!("{}: {e}", dir.display())));
            return;
        }
    };
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                out.push(Err(anyhow!("{}: {e}", path.display())));
                continue;
            }
        };
        if file_type.is_dir() {
            walk(&path, out);
        } else if file_type.is_file() {
            out.push(Ok(path));
        } else if file_type.is_symlink() {
            // Follow links to files only; a broken link is a failure.
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => out.push(Ok(path)),
                Ok(_) => {}
                Err(e) => out.push(Err(anyhow!("{}: {e}", path.display()))),
            }
        }
    }
}

/// Reads the files of `summarize` and `export` one by one, printing
/// failures and warnings, and keeps count.
struct Batch {
    /// The files, or errors for paths that could not be listed.
    entries: Vec<Entry>,
    /// How many entries there were.
    total: usize,
    /// Input limits.
    limits: Limits,
    /// List warnings per file.
    verbose: bool,
    /// The progress bar (hidden unless stderr is a terminal and there are
    /// many files).
    bar: ProgressBar,
    /// Files that could not be read as reports.
    failures: usize,
    /// Files with warnings.
    warned_files: usize,
    /// Their warnings.
    warnings: usize,
}

impl Batch {
    /// Collect the files of `args`.
    fn new(args: &ReportFilesArgs) -> Self {
        let entries = collect_files(&args.paths);
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
        Self {
            entries,
            total,
            limits: limits(&args.limits),
            verbose: args.verbose,
            bar,
            failures: 0,
            warned_files: 0,
            warnings: 0,
        }
    }

    /// Read every file and hand each report to `f` with the file's path
    /// and the progress bar (to suspend while writing to a terminal); `f`
    /// returns `Ok(false)` to stop early (stdout closed).
    fn run(
        &mut self,
        mut f: impl FnMut(&ProgressBar, &str, &Report<'static>) -> Result<bool>,
    ) -> Result<()> {
        for entry in std::mem::take(&mut self.entries) {
            let read = entry.and_then(|path| read(&path, &self.limits, false));
            self.bar.inc(1);
            let r = match read {
                Ok(read) => read,
                Err(e) => {
                    self.failures += 1;
                    self.bar.suspend(|| output::error(&e));
                    continue;
                }
            };
            if !r.warnings.is_empty() {
                self.warned_files += 1;
                self.warnings += r.warnings.len();
                if self.verbose {
                    self.bar.suspend(|| {
                        for w in &r.warnings {
                            output::warning(format!("{}: {w}", r.name));
                        }
                    });
                }
            }
            if !f(&self.bar, &r.name, &r.report)? {
                break;
            }
        }
        self.bar.finish_and_clear();
        Ok(())
    }

    /// The closing lines: the warning count (without `-v`), and an error
    /// when some files failed.
    fn finish(self) -> Result<()> {
        if !self.verbose && self.warnings > 0 {
            output::warning(format!(
                "{} {} had {} {} (use -v)",
                self.warned_files,
                plural(self.warned_files, "file", "files"),
                self.warnings,
                plural(self.warnings, "warning", "warnings"),
            ));
        }
        if self.failures > 0 {
            bail!(
                "{} of {} {} could not be read as reports",
                self.failures,
                self.total,
                plural(self.total, "file", "files")
            );
        }
        Ok(())
    }
}

/// `one` or `many` by `n`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `mtasts report summarize`: the [`Summary`](tlsrpt_core::summary::Summary)
/// of every readable report, as JSON or text tables.
pub(crate) fn summarize(args: &crate::ReportSummarizeArgs, json: bool) -> Result<()> {
    let mut batch = Batch::new(&args.files);
    let mut agg = Aggregator::new();
    batch.run(|_, name, report| {
        agg.add(report, name);
        Ok(true)
    })?;
    let summary = agg.into_summary();
    if json {
        output::json(&summary)?;
    } else {
        output::stdout(&summary.render_text())?;
    }
    batch.finish()
}

/// The writer of `report export`.
enum Writer {
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
    let mut batch = Batch::new(&args.files);
    // (organization-name, report-id) -> the file it was first read from.
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    let mut open = true;
    batch.run(|bar, name, report| {
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
                w.write_report(report);
                w.take()
            }
            Writer::Ndjson(w) => {
                w.write_report(report, Some(name));
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
