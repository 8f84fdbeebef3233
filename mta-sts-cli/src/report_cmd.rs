//! `mtasts report parse|summarize|export`: TLS-RPT reports (RFC 8460).
//!
//! Every input is read through [`tlsrpt_core::input::read_report`], which
//! detects the shape from the content (JSON, gzip magic bytes, e-mail
//! header lines), never from the file name.
//!
//! `summarize` and `export` take files and directories. A path on the
//! command line is followed if it is a symbolic link, and read whatever
//! it is (a FIFO such as `<(zcat r.json.gz)` too) unless it is a
//! directory. Directories are walked recursively, entries in sorted order;
//! regular files (and symbolic links to them) are read, whatever their
//! name, so a file that is not a report is reported as a failure rather
//! than skipped; an empty one is not even opened (pseudo-files such as
//! `/proc/kmsg` have size 0 and block). Inside the walk, symbolic links
//! to directories are not followed (no cycles), special files (FIFOs,
//! sockets, devices, links to them) are skipped without being opened and
//! directories on another file system (`/proc`, `/sys` below `/`) are not
//! entered, each with a `warning: PATH: ...` line. The walk goes at most
//! [`MAX_DEPTH`] directory levels down and collects at most
//! [`MAX_FILES`] files; beyond that, `error:` lines say what was not read.
//! A failing file gets one `error: PATH: ...` line on stderr and the rest
//! are still processed; at the end a last `error: N of M files could not
//! be read as reports` line and status 1. Every line on stderr and every
//! text table has its control characters escaped (file names included);
//! see [`mta_sts_core::display`].
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
    parse_input(input.name, &input.bytes, limits, strict)
}

/// Parse the report in `bytes`, read from the input `name`. Errors are
/// prefixed with the name.
fn parse_input(name: String, bytes: &[u8], limits: &Limits, strict: bool) -> Result<ReadReport> {
    let options = input::ReadOptions {
        limits: *limits,
        strictness: if strict {
            Strictness::Strict
        } else {
            Strictness::Lenient
        },
    };
    let read = input::read_report(bytes, &options).map_err(|e| anyhow!("{name}: {e}"))?;
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
        name,
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
    /// A file to read.
    File(PathBuf),
    /// A regular file of size 0 found by walking: read as empty input
    /// without being opened, since pseudo-files of that size (`/proc/kmsg`)
    /// can block or hand out data meant for someone else.
    Empty(PathBuf),
    /// A path that could not be listed or read (one `error:` line, counted
    /// as a failure).
    Failed(anyhow::Error),
}

/// The result of [`collect_files`]: what to read, and what was skipped.
#[derive(Debug, Default)]
struct Collected {
    /// Files and failures, in order.
    entries: Vec<Entry>,
    /// `PATH: why` for every path skipped (special files, symbolic links
    /// to directories, other file systems) and every directory without
    /// files, printed as `warning:` lines.
    warnings: Vec<String>,
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
            self.entries.push(Entry::Failed(anyhow!(
                "more than {} files: the walk stopped here, the rest was not read",
                limits.max_files
            )));
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
/// documentation).
///
/// A path given on the command line is followed if it is a symbolic link
/// and read whatever it is (a FIFO such as `<(zcat r.json.gz)` included),
/// unless it is a directory, which is walked: inside it, symbolic links to
/// directories are not followed, special files (FIFOs, sockets, devices)
/// are skipped without being opened, and directories on another file
/// system are not entered (each with a warning); directories deeper than
/// `limits.max_depth` and entries beyond `limits.max_files` are failures.
fn collect_files(paths: &[PathBuf], limits: WalkLimits) -> Collected {
    let mut c = Collected::default();
    for path in paths {
        if c.full {
            break;
        }
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let before = c.entries.len();
                walk(path, device(&m), 0, limits, &mut c);
                if c.entries.len() == before {
                    c.warnings
                        .push(format!("{}: no files in this directory", path.display()));
                }
            }
            Ok(_) => {
                c.push(Entry::File(path.clone()), limits);
            }
            Err(e) => {
                c.push(Entry::Failed(anyhow!("{}: {e}", path.display())), limits);
            }
        }
    }
    c
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
        Err(e) => return c.push(Entry::Failed(anyhow!("{}: {e}", dir.display())), limits),
    };
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        // Not followed: the type of the entry itself.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                if !c.push(Entry::Failed(anyhow!("{}: {e}", path.display())), limits) {
                    return false;
                }
                continue;
            }
        };
        let file_type = meta.file_type();
        let more = if file_type.is_dir() {
            if dev.is_some() && device(&meta) != dev {
                c.warnings.push(format!(
                    "{}: on another file system; not walked",
                    path.display()
                ));
                true
            } else if depth >= limits.max_depth {
                c.push(
                    Entry::Failed(anyhow!(
                        "{}: more than {} directory levels deep; not read",
                        path.display(),
                        limits.max_depth
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
                    c.warnings.push(format!(
                        "{}: symbolic link to a directory; not followed",
                        path.display()
                    ));
                    true
                }
                Ok(m) => {
                    c.warnings.push(format!(
                        "{}: symbolic link to {}; skipped",
                        path.display(),
                        special_kind(m.file_type())
                    ));
                    true
                }
                Err(e) => c.push(Entry::Failed(anyhow!("{}: {e}", path.display())), limits),
            }
        } else {
            c.warnings.push(format!(
                "{}: {}, not a regular file; skipped",
                path.display(),
                special_kind(file_type)
            ));
            true
        };
        if !more {
            return false;
        }
    }
    true
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
    /// Collect the files of `args`; print a warning for every path
    /// skipped.
    fn new(args: &ReportFilesArgs) -> Self {
        let collected = collect_files(&args.paths, WalkLimits::default());
        for w in &collected.warnings {
            output::warning(w);
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
            let read = match entry {
                Entry::File(path) => read(&path, &self.limits, false),
                Entry::Empty(path) => {
                    parse_input(path.display().to_string(), &[], &self.limits, false)
                }
                Entry::Failed(e) => Err(e),
            };
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
    let max_groups = usize::try_from(args.max_groups).unwrap_or(usize::MAX);
    let mut agg = Aggregator::with_max_groups(max_groups);
    batch.run(|_, name, report| {
        agg.add(report, name);
        Ok(true)
    })?;
    let summary = agg.into_summary();
    for (grouping, n) in &summary.folded {
        output::warning(format_args!(
            "{grouping}: more than {} distinct keys; {n} addition(s) counted under {} (--max-groups)",
            args.max_groups,
            tlsrpt_core::summary::OTHER
        ));
    }
    if json {
        output::json(&summary)?;
    } else {
        output::text(&summary.render_text())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh temporary directory for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mtasts-report-cmd-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `(kind, path or message)` of every entry, paths relative to `dir`.
    fn entries(c: &Collected, dir: &Path) -> Vec<(&'static str, String)> {
        let rel = |p: &Path| p.strip_prefix(dir).unwrap().display().to_string();
        c.entries
            .iter()
            .map(|e| match e {
                Entry::File(p) => ("file", rel(p)),
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

        let c = collect_files(std::slice::from_ref(&dir), WalkLimits::default());
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
            c.warnings,
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
        let c = collect_files(&[dir.join("sub-link")], WalkLimits::default());
        assert_eq!(entries(&c, &dir), [("file", "sub-link/b.json".to_owned())]);
        assert_eq!(
            c.warnings,
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
        let c = collect_files(std::slice::from_ref(&dir), limits);
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
        let c = collect_files(&[dir.clone(), dir.join("f0")], limits);
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
