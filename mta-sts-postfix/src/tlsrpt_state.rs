//! The TLS-RPT state directory: what the collector (`mtasts tlsrpt
//! collect`, [`crate::collector`]) writes and the reporter (`mtasts tlsrpt
//! send`) reads.
//!
//! ```text
//! DIR/
//!   node                              this node's name, one line
//!   journal/                          the collector's crash-safe journal (private format)
//!   partials/<node>/<YYYY-MM-DD>.json one node's partial aggregate of one UTC day
//!   partials/<node>/<YYYY-MM-DD>.final   present once that partial is final
//!   reports/<YYYY-MM-DD>/             the reporter's output and delivery state
//! ```
//!
//! A partial is [`DayAggregate::to_json`] of one node's day, written
//! atomically ([`write_atomic`]: a temporary file in the same directory,
//! fsync, rename, fsync of the directory), so a reader sees the old or
//! the new version, never a mix. The collector rewrites its own partial
//! while the day runs (a checkpoint, at least every minute and at
//! shutdown) and a last time once the UTC day and its grace period are
//! over; then it creates the `.final` marker ([`StateDir::is_final`]).
//! Partials of other nodes are copied into `partials/<their node>/` by the
//! operator (rsync, for instance): [`StateDir::read_day`] merges every
//! `partials/*/<day>.json` into one aggregate, so each policy domain gets
//! one report per day, not one per node.
//!
//! A node name is 1 to 64 of `A-Z a-z 0-9 . _ -` and not `.` or `..`
//! ([`valid_node_name`]). [`StateDir::open`] takes it from `DIR/node`, or,
//! the first time, from the host name (and writes it there, so a renamed
//! host keeps its partials); [`StateDir::open_as`] sets it.
//!
//! ```
//! use mta_sts_postfix::tlsrpt_state::StateDir;
//! use tlsrpt_core::session::{AggregateLimits, DayAggregate, Outcome, PolicyKey, UtcDay};
//!
//! # let tmp = std::env::temp_dir().join(format!("tlsrpt-state-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&tmp);
//! let day = UtcDay::parse("2024-05-01")?;
//! let key = PolicyKey::no_policy_found("example.org")?;
//! // Two nodes, each with its own partial of the day.
//! for (node, sessions) in [("mx1", 3), ("mx2", 2)] {
//!     let state = StateDir::open_as(&tmp, node)?;
//!     let mut agg = DayAggregate::new(day);
//!     for _ in 0..sessions {
//!         agg.record(&key, &Outcome::Success)?;
//!     }
//!     state.write_partial(day, &agg)?;
//! }
//! let state = StateDir::open(&tmp)?; // node "mx2", from DIR/node
//! assert_eq!(state.node(), "mx2");
//! let (merged, errors) = state.read_day(day, AggregateLimits::default())?;
//! assert!(errors.is_empty());
//! assert_eq!(merged.totals().successful_sessions, 5);
//! assert_eq!(state.days_with_partials()?, [day]);
//! # std::fs::remove_dir_all(&tmp)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use mta_sts_core::display::Escaped;
use tlsrpt_core::session::{AggregateError, AggregateLimits, DayAggregate, UtcDay};

/// Longest node name, in bytes.
pub const MAX_NODE_LEN: usize = 64;

/// Largest partial file read ([`StateDir::read_partial`]), in bytes: a
/// day at the default [`AggregateLimits`] with long policies stays well
/// below it.
pub const MAX_PARTIAL_BYTES: u64 = 512 * 1024 * 1024;

/// Most node directories [`StateDir::partials_for`] and
/// [`StateDir::days_with_partials`] look at, and most files per node
/// directory [`StateDir::days_with_partials`] lists.
pub const MAX_NODES: usize = 10_000;

/// Most entries read from one node directory by
/// [`StateDir::days_with_partials`].
pub const MAX_FILES_PER_NODE: usize = 100_000;

/// The file holding the node name.
const NODE_FILE: &str = "node";
/// Largest `DIR/node` file read.
const MAX_NODE_FILE: u64 = 4096;

/// What went wrong with the state directory; every variant names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The path exists and is not a directory.
    #[error("{}: not a directory", .path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        /// What was being done: `create`, `read`, `write`, `list`, ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A node name that is not 1 to [`MAX_NODE_LEN`] of `A-Z a-z 0-9 . _
    /// -` (or is `.` or `..`).
    #[error("node name `{}` {reason}", Escaped(.name))]
    InvalidNode {
        /// The name as given.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The node name could not be taken from the host name.
    #[error("no node name: the host name `{}` {reason}; give one with --node NAME", Escaped(.host))]
    HostName {
        /// The host name found (empty when there is none).
        host: String,
        /// Why it is not usable.
        reason: &'static str,
    },
    /// A partial that does not parse or does not fit.
    #[error("{}: {source}", .path.display())]
    Partial {
        /// The partial file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: AggregateError,
    },
    /// A partial holding another day than its file name says, or an
    /// aggregate of another day given to [`StateDir::write_partial`].
    #[error("{}: holds the aggregate of {found}, not of {expected}", .path.display())]
    DayMismatch {
        /// The partial file.
        path: PathBuf,
        /// The day of the file name.
        expected: UtcDay,
        /// The day inside.
        found: UtcDay,
    },
    /// A partial larger than [`MAX_PARTIAL_BYTES`].
    #[error("{}: {size} bytes is larger than the limit of {limit} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More node directories or files than [`MAX_NODES`] or
    /// [`MAX_FILES_PER_NODE`].
    #[error("{}: more than {limit} {what}", .path.display())]
    TooMany {
        /// The directory.
        path: PathBuf,
        /// `node directories` or `files`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

impl StateError {
    fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Self + 'a {
        move |source| Self::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

type Result<T, E = StateError> = std::result::Result<T, E>;

/// Check a node name: 1 to [`MAX_NODE_LEN`] of `A-Z a-z 0-9 . _ -`, not
/// `.` or `..`.
///
/// ```
/// use mta_sts_postfix::tlsrpt_state::valid_node_name;
/// assert!(valid_node_name("mx1.example.com").is_ok());
/// assert!(valid_node_name("../etc").is_err());
/// assert!(valid_node_name("").is_err());
/// ```
pub fn valid_node_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_NODE_LEN {
        Some("is longer than 64 bytes")
    } else if name == "." || name == ".." {
        Some("is `.` or `..`")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("has characters other than A-Z a-z 0-9 . _ -")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StateError::InvalidNode {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// This host's name, as a node name ([`StateError::HostName`] when it is
/// not a valid one).
pub fn host_node_name() -> Result<String> {
    let host = host_name();
    let host = host.trim().trim_end_matches('.');
    if host.is_empty() {
        return Err(StateError::HostName {
            host: String::new(),
            reason: "is empty",
        });
    }
    match valid_node_name(host) {
        Ok(()) => Ok(host.to_owned()),
        Err(StateError::InvalidNode { reason, .. }) => Err(StateError::HostName {
            host: host.to_owned(),
            reason,
        }),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// Write `bytes` to `path` atomically: into a temporary file in the same
/// directory, fsync'd, renamed over `path`, then the directory fsync'd.
/// Readers see the old content or the new one; after a crash, the file
/// is one of the two (a left-over temporary file, named
/// `.<name>.tmp.<pid>.<n>`, may remain).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(StateError::io("create", &tmp))?;
        f.write_all(bytes).map_err(StateError::io("write", &tmp))?;
        f.sync_all().map_err(StateError::io("sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(StateError::io("rename into place", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory (so a rename or a new file in it survives a power
/// loss). A no-op where directories cannot be opened as files.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StateError::io("sync", dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Create `path` (and its parents) unless it is a directory already;
/// [`StateError::NotADirectory`] when it is something else.
fn ensure_dir(path: &Path) -> Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(StateError::NotADirectory {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(path).map_err(StateError::io("create", path))
        }
        Err(e) => Err(StateError::io("read", path)(e)),
    }
}

/// Read at most `limit` bytes of `path` ([`StateError::TooLarge`] beyond).
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(StateError::io("read", path))?;
    let too_large = |size| StateError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    let size = f.metadata().map_err(StateError::io("read", path))?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(StateError::io("read", path))?;
    // It grew since.
    let size = u64::try_from(buf.len()).unwrap_or(u64::MAX);
    if size > limit {
        return Err(too_large(size));
    }
    Ok(buf)
}

/// The day of a partial's file name `<YYYY-MM-DD>.json`.
fn partial_day(file_name: &str) -> Option<UtcDay> {
    file_name
        .strip_suffix(".json")
        .and_then(|d| UtcDay::parse(d).ok())
}

/// An open state directory (see the module documentation).
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
    node: String,
}

impl StateDir {
    /// Open (creating what is missing) the state directory `path`. The
    /// node name is the one in `DIR/node`; without that file, the host
    /// name, which is then written there.
    ///
    /// Errors: [`StateError::NotADirectory`] when `path` (or one of its
    /// subdirectories) is something else, [`StateError::HostName`] when
    /// there is no node file and the host name is not a valid node name,
    /// [`StateError::InvalidNode`] for a bad node file,
    /// [`StateError::Io`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_node(path.as_ref(), None)
    }

    /// Open the state directory `path` as node `node` (written to
    /// `DIR/node` when it differs from what is there).
    pub fn open_as(path: impl AsRef<Path>, node: &str) -> Result<Self> {
        Self::open_node(path.as_ref(), Some(node))
    }

    /// [`StateDir::open_as`] when `node` is given, else
    /// [`StateDir::open`] (for a `--node` option).
    pub fn open_node(path: &Path, node: Option<&str>) -> Result<Self> {
        if let Some(n) = node {
            valid_node_name(n)?;
        }
        ensure_dir(path)?;
        let node_file = path.join(NODE_FILE);
        let stored = match fs::symlink_metadata(&node_file) {
            Ok(m) if m.is_file() => {
                let bytes = read_bounded(&node_file, MAX_NODE_FILE)?;
                let text = String::from_utf8_lossy(&bytes);
                let name = text.trim();
                valid_node_name(name)?;
                Some(name.to_owned())
            }
            Ok(_) => {
                return Err(StateError::Io {
                    action: "read",
                    path: node_file,
                    source: io::Error::new(io::ErrorKind::InvalidData, "not a regular file"),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(StateError::io("read", &node_file)(e)),
        };
        let node = match (node, stored) {
            (Some(n), Some(s)) if n == s => s,
            (Some(n), _) => {
                write_atomic(&node_file, format!("{n}\n").as_bytes())?;
                n.to_owned()
            }
            (None, Some(s)) => s,
            (None, None) => {
                let n = host_node_name()?;
                write_atomic(&node_file, format!("{n}\n").as_bytes())?;
                n
            }
        };
        let state = Self {
            root: path.to_owned(),
            node,
        };
        for dir in [
            state.journal_dir(),
            state.partials_dir(),
            state.node_dir(&state.node),
            state.root.join("reports"),
        ] {
            ensure_dir(&dir)?;
        }
        Ok(state)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// `DIR/journal`: the collector's journal.
    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    /// `DIR/partials`.
    pub fn partials_dir(&self) -> PathBuf {
        self.root.join("partials")
    }

    /// `DIR/partials/<node>`.
    fn node_dir(&self, node: &str) -> PathBuf {
        self.partials_dir().join(node)
    }

    /// `DIR/partials/<node>/<day>.json`.
    pub fn partial_path(&self, node: &str, day: UtcDay) -> PathBuf {
        self.node_dir(node).join(format!("{day}.json"))
    }

    /// `DIR/partials/<node>/<day>.final`: present once the node's
    /// partial of the day is final.
    pub fn final_marker_path(&self, node: &str, day: UtcDay) -> PathBuf {
        self.node_dir(node).join(format!("{day}.final"))
    }

    /// `DIR/reports/<day>`: the reporter's files of the day (not
    /// created; see [`StateDir::create_reports_dir`]).
    pub fn reports_dir(&self, day: UtcDay) -> PathBuf {
        self.root.join("reports").join(day.to_string())
    }

    /// Create `DIR/reports/<day>` if missing; returns its path.
    pub fn create_reports_dir(&self, day: UtcDay) -> Result<PathBuf> {
        let d = self.reports_dir(day);
        ensure_dir(&d)?;
        Ok(d)
    }

    /// Write this node's partial of `day` atomically
    /// ([`DayAggregate::to_json`]); returns its path.
    /// [`StateError::DayMismatch`] when `aggregate` is of another day.
    pub fn write_partial(&self, day: UtcDay, aggregate: &DayAggregate) -> Result<PathBuf> {
        let path = self.partial_path(&self.node, day);
        if aggregate.day() != day {
            return Err(StateError::DayMismatch {
                path,
                expected: day,
                found: aggregate.day(),
            });
        }
        write_atomic(&path, aggregate.to_json().as_bytes())?;
        Ok(path)
    }

    /// [`StateDir::write_partial`] of JSON the caller made with
    /// [`DayAggregate::to_json`] of `day`'s aggregate (the collector
    /// writes the same JSON into its checkpoint).
    pub(crate) fn write_partial_json(&self, day: UtcDay, json: &str) -> Result<PathBuf> {
        let path = self.partial_path(&self.node, day);
        write_atomic(&path, json.as_bytes())?;
        Ok(path)
    }

    /// Mark this node's partial of `day` final (after the last
    /// [`StateDir::write_partial`] of the day).
    pub fn mark_final(&self, day: UtcDay) -> Result<()> {
        let path = self.final_marker_path(&self.node, day);
        write_atomic(&path, b"")
    }

    /// Whether `node`'s partial of `day` is marked final.
    pub fn is_final(&self, node: &str, day: UtcDay) -> bool {
        self.final_marker_path(node, day).is_file()
    }

    /// Read one partial (at most [`MAX_PARTIAL_BYTES`]) with `limits`,
    /// checking that it holds the day its file name says.
    pub fn read_partial(&self, path: &Path, limits: AggregateLimits) -> Result<DayAggregate> {
        let bytes = read_bounded(path, MAX_PARTIAL_BYTES)?;
        let agg =
            DayAggregate::from_json(&bytes, limits).map_err(|source| StateError::Partial {
                path: path.to_owned(),
                source,
            })?;
        if let Some(expected) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(partial_day)
            && expected != agg.day()
        {
            return Err(StateError::DayMismatch {
                path: path.to_owned(),
                expected,
                found: agg.day(),
            });
        }
        Ok(agg)
    }

    /// The node directories under `DIR/partials` (sorted by name): valid
    /// names, and invalid ones with their error.
    fn node_dirs(&self) -> Result<Vec<(String, Result<PathBuf>)>> {
        let dir = self.partials_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(StateError::io("list", &dir))? {
            let entry = entry.map_err(StateError::io("list", &dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temporary and hidden files of rsync and editors.
            if name.starts_with('.') {
                continue;
            }
            if out.len() >= MAX_NODES {
                return Err(StateError::TooMany {
                    path: dir,
                    what: "node directories",
                    limit: MAX_NODES,
                });
            }
            let is_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
            let checked = if !is_dir {
                Err(StateError::NotADirectory { path })
            } else {
                valid_node_name(&name).map(|()| path)
            };
            out.push((name, checked));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Every node's partial of `day` (`partials/*/<day>.json`), sorted by
    /// node name. Entries of `partials/` that are not valid node
    /// directories are left out here; [`StateDir::read_day`] reports
    /// them.
    pub fn partials_for(&self, day: UtcDay) -> Result<Vec<(String, PathBuf)>> {
        Ok(self
            .node_dirs()?
            .into_iter()
            .filter_map(|(node, dir)| {
                let p = dir.ok()?.join(format!("{day}.json"));
                p.is_file().then_some((node, p))
            })
            .collect())
    }

    /// Merge every node's partial of `day` into one aggregate with
    /// `limits`. A partial that cannot be read, does not parse, holds
    /// another day or does not merge is not counted and is returned with
    /// its node name and error (so the caller can report it, and decide
    /// whether to send without it); an entry of `partials/` that is not a
    /// valid node directory is returned the same way. Without any
    /// partial the aggregate is empty.
    pub fn read_day(
        &self,
        day: UtcDay,
        limits: AggregateLimits,
    ) -> Result<(DayAggregate, Vec<(String, StateError)>)> {
        let mut merged = DayAggregate::with_limits(day, limits);
        let mut errors = Vec::new();
        for (node, dir) in self.node_dirs()? {
            let dir = match dir {
                Ok(d) => d,
                Err(e) => {
                    errors.push((node, e));
                    continue;
                }
            };
            let path = dir.join(format!("{day}.json"));
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    errors.push((
                        node,
                        StateError::Io {
                            action: "read",
                            path,
                            source: io::Error::new(
                                io::ErrorKind::InvalidData,
                                "not a regular file",
                            ),
                        },
                    ));
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    errors.push((node, StateError::io("read", &path)(e)));
                    continue;
                }
            }
            match self.read_partial(&path, limits).and_then(|agg| {
                merged.merge(&agg).map_err(|source| StateError::Partial {
                    path: path.clone(),
                    source,
                })
            }) {
                Ok(()) => {}
                Err(e) => errors.push((node, e)),
            }
        }
        Ok((merged, errors))
    }

    /// Every day with at least one node's partial, sorted, each once.
    pub fn days_with_partials(&self) -> Result<Vec<UtcDay>> {
        self.days_with_partials_bounded(MAX_FILES_PER_NODE)
    }

    /// [`StateDir::days_with_partials`] with at most `max_files` entries
    /// per node directory (a parameter for the tests).
    fn days_with_partials_bounded(&self, max_files: usize) -> Result<Vec<UtcDay>> {
        let mut days = std::collections::BTreeSet::new();
        for (_, dir) in self.node_dirs()? {
            let Ok(dir) = dir else { continue };
            let mut n = 0usize;
            for entry in fs::read_dir(&dir).map_err(StateError::io("list", &dir))? {
                let entry = entry.map_err(StateError::io("list", &dir))?;
                n += 1;
                if n > max_files {
                    return Err(StateError::TooMany {
                        path: dir,
                        what: "files",
                        limit: max_files,
                    });
                }
                if let Some(day) = entry.file_name().to_str().and_then(partial_day) {
                    days.insert(day);
                }
            }
        }
        Ok(days.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsrpt_core::session::{Outcome, PolicyKey};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tlsrpt-state-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn day() -> UtcDay {
        UtcDay::parse("2024-05-01").unwrap()
    }

    #[test]
    fn node_names() {
        for ok in ["a", "mx1.example.com", "node_2-b", &"x".repeat(64)] {
            assert!(valid_node_name(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("", "is empty"),
            (".", "is `.` or `..`"),
            ("..", "is `.` or `..`"),
            ("a/b", "has characters other than A-Z a-z 0-9 . _ -"),
            ("a b", "has characters other than A-Z a-z 0-9 . _ -"),
            ("bü", "has characters other than A-Z a-z 0-9 . _ -"),
        ] {
            match valid_node_name(bad) {
                Err(StateError::InvalidNode { reason: r, .. }) => assert_eq!(r, reason, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let long = "x".repeat(65);
        assert!(valid_node_name(&long).is_err());
        assert_eq!(
            valid_node_name("a\u{1b}").unwrap_err().to_string(),
            "node name `a\\u{1b}` has characters other than A-Z a-z 0-9 . _ -"
        );
    }

    #[test]
    fn open_creates_layout_and_keeps_the_node_name() {
        let d = tmp("layout");
        let s = StateDir::open_as(&d, "n1").unwrap();
        assert_eq!(s.node(), "n1");
        for sub in ["journal", "partials/n1", "reports"] {
            assert!(d.join(sub).is_dir(), "{sub}");
        }
        assert_eq!(fs::read_to_string(d.join("node")).unwrap(), "n1\n");
        // Reopened without a name: the stored one, not the host name.
        assert_eq!(StateDir::open(&d).unwrap().node(), "n1");
        // --node overrides and is stored.
        assert_eq!(StateDir::open_as(&d, "n2").unwrap().node(), "n2");
        assert_eq!(StateDir::open(&d).unwrap().node(), "n2");
        // A bad stored name is an error, not silently replaced.
        fs::write(d.join("node"), "bad/name\n").unwrap();
        let e = StateDir::open(&d).unwrap_err().to_string();
        assert_eq!(
            e,
            "node name `bad/name` has characters other than A-Z a-z 0-9 . _ -"
        );
        assert!(matches!(
            StateDir::open_as(&d, "../x"),
            Err(StateError::InvalidNode { .. })
        ));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn open_refuses_a_file() {
        let d = tmp("file");
        fs::write(&d, "x").unwrap();
        let e = StateDir::open_as(&d, "n").unwrap_err();
        assert!(matches!(e, StateError::NotADirectory { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("{}: not a directory", d.display()));
        fs::remove_file(&d).unwrap();
        // A file where a subdirectory belongs.
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("journal"), "x").unwrap();
        let e = StateDir::open_as(&d, "n").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: not a directory", d.join("journal").display())
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn host_name_is_the_default_node() {
        let d = tmp("host");
        match (StateDir::open(&d), host_node_name()) {
            (Ok(s), Ok(h)) => assert_eq!(s.node(), h),
            (Err(e), Err(h)) => assert_eq!(e.to_string(), h.to_string()),
            (a, b) => panic!("{a:?} {b:?}"),
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn partials_write_read_merge_and_report_errors() {
        let d = tmp("partials");
        let key = PolicyKey::no_policy_found("example.org").unwrap();
        let a = StateDir::open_as(&d, "a").unwrap();
        let mut agg = DayAggregate::new(day());
        agg.record(&key, &Outcome::Success).unwrap();
        let p = a.write_partial(day(), &agg).unwrap();
        assert_eq!(p, d.join("partials/a/2024-05-01.json"));
        assert!(!a.is_final("a", day()));
        a.mark_final(day()).unwrap();
        assert!(a.is_final("a", day()));
        // Wrong day given.
        let other = UtcDay::parse("2024-05-02").unwrap();
        assert!(matches!(
            a.write_partial(other, &agg),
            Err(StateError::DayMismatch { .. })
        ));
        let b = StateDir::open_as(&d, "b").unwrap();
        agg.record(&key, &Outcome::Success).unwrap();
        b.write_partial(day(), &agg).unwrap();
        // A broken partial of node c, a partial of the wrong day under
        // node e, a stray file and a bad directory name.
        fs::create_dir_all(d.join("partials/c")).unwrap();
        fs::write(d.join("partials/c/2024-05-01.json"), "{not json").unwrap();
        fs::create_dir_all(d.join("partials/e")).unwrap();
        let mut wrong = DayAggregate::new(other);
        wrong.record(&key, &Outcome::Success).unwrap();
        fs::write(d.join("partials/e/2024-05-01.json"), wrong.to_json()).unwrap();
        fs::write(d.join("partials/stray.txt"), "x").unwrap();
        fs::create_dir_all(d.join("partials/bad name")).unwrap();
        fs::create_dir_all(d.join("partials/.rsync-tmp")).unwrap();
        let s = StateDir::open(&d).unwrap();
        assert_eq!(
            s.partials_for(day())
                .unwrap()
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            ["a", "b", "c", "e"]
        );
        let (merged, errors) = s.read_day(day(), AggregateLimits::default()).unwrap();
        assert_eq!(merged.totals().successful_sessions, 3);
        let errs: Vec<(String, String)> = errors
            .iter()
            .map(|(n, e)| (n.clone(), e.to_string()))
            .collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert_eq!(errs[0].0, "bad name");
        assert!(errs[0].1.contains("has characters other than"), "{errs:?}");
        assert_eq!(errs[1].0, "c");
        assert!(
            errs[1].1.starts_with(&format!(
                "{}: partial aggregate: ",
                d.join("partials/c/2024-05-01.json").display()
            )),
            "{errs:?}"
        );
        assert_eq!(errs[2].0, "e");
        assert!(
            errs[2]
                .1
                .ends_with("holds the aggregate of 2024-05-02, not of 2024-05-01"),
            "{errs:?}"
        );
        assert_eq!(errs[3].0, "stray.txt");
        assert!(errs[3].1.ends_with("not a directory"), "{errs:?}");
        assert_eq!(s.days_with_partials().unwrap(), [day()]);
        // A day without partials: empty, no errors except the bad entries.
        let (empty, errors) = s.read_day(other, AggregateLimits::default()).unwrap();
        assert!(empty.is_empty());
        assert_eq!(errors.len(), 2);
        assert_eq!(s.reports_dir(day()), d.join("reports/2024-05-01"));
        assert!(!s.reports_dir(day()).exists());
        s.create_reports_dir(day()).unwrap();
        assert!(s.reports_dir(day()).is_dir());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn oversized_partial_is_refused_before_parsing() {
        let d = tmp("big");
        fs::create_dir_all(&d).unwrap();
        let p = d.join("2024-05-01.json");
        fs::write(&p, vec![b' '; 100]).unwrap();
        let e = read_bounded(&p, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: 100 bytes is larger than the limit of 10 bytes",
                p.display()
            )
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let d = tmp("atomic");
        fs::create_dir_all(&d).unwrap();
        let p = d.join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        // Into a missing directory: an error naming the temporary file.
        let e = write_atomic(&d.join("missing/f"), b"x").unwrap_err();
        assert!(e.to_string().contains("cannot create"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn more_than_max_nodes_node_directories_are_an_error() {
        let d = tmp("nodes");
        let s = StateDir::open_as(&d, "mx1").unwrap();
        s.write_partial(day(), &DayAggregate::new(day())).unwrap();
        let partials = s.partials_dir();
        // 10,000 node directories (mx1 and 9,999 more); hidden entries
        // (rsync's, editors') do not count.
        for n in 1..MAX_NODES {
            fs::create_dir(partials.join(format!("n{n:05}"))).unwrap();
        }
        fs::create_dir(partials.join(".rsync-tmp")).unwrap();
        assert_eq!(MAX_NODES, 10_000);
        let found = s.partials_for(day()).unwrap();
        assert_eq!(found, [("mx1".to_owned(), s.partial_path("mx1", day()))]);
        assert_eq!(s.days_with_partials().unwrap(), [day()]);
        let (agg, errors) = s.read_day(day(), AggregateLimits::default()).unwrap();
        assert!(agg.is_empty() && errors.is_empty(), "{errors:?}");
        // One more: every listing is an error naming the directory.
        fs::create_dir(partials.join("n10000")).unwrap();
        let want = format!("{}: more than 10000 node directories", partials.display());
        let check = |e: StateError| {
            assert!(
                matches!(
                    &e,
                    StateError::TooMany { path, what: "node directories", limit: 10_000 }
                        if *path == partials
                ),
                "{e:?}"
            );
            assert_eq!(e.to_string(), want);
        };
        check(s.partials_for(day()).unwrap_err());
        check(s.days_with_partials().unwrap_err());
        check(s.read_day(day(), AggregateLimits::default()).unwrap_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn more_files_than_the_bound_in_a_node_directory_are_an_error() {
        // MAX_FILES_PER_NODE (100,000) files take seconds to create: the
        // same code with a bound of 50.
        assert_eq!(MAX_FILES_PER_NODE, 100_000);
        let d = tmp("files");
        let s = StateDir::open_as(&d, "mx1").unwrap();
        s.write_partial(day(), &DayAggregate::new(day())).unwrap();
        let node = s.partials_dir().join("mx1");
        let other = UtcDay::parse("2024-04-30").unwrap();
        fs::write(node.join(format!("{other}.json")), "{}").unwrap();
        let have = fs::read_dir(&node).unwrap().count();
        for n in have..50 {
            fs::write(node.join(format!("junk-{n}")), "").unwrap();
        }
        assert_eq!(fs::read_dir(&node).unwrap().count(), 50);
        assert_eq!(s.days_with_partials_bounded(50).unwrap(), [other, day()]);
        fs::write(node.join("junk-50"), "").unwrap();
        let e = s.days_with_partials_bounded(50).unwrap_err();
        assert!(
            matches!(&e, StateError::TooMany { path, what: "files", limit: 50 } if *path == node),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{}: more than 50 files", node.display())
        );
        // The public bound is far away.
        assert_eq!(s.days_with_partials().unwrap(), [other, day()]);
        fs::remove_dir_all(&d).unwrap();
    }
}
