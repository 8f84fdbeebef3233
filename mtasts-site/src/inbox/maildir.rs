//! The Maildir input (`mtasts report ingest --maildir DIR [--watch]`):
//! every unprocessed message of a Maildir goes through
//! [`Inbox::ingest`], then is moved by an atomic rename according to
//! the outcome.
//!
//! # States
//!
//! A message is **unprocessed** while it is in `new/`, or in `cur/`
//! without the `S` (seen) flag — a Maildir shared with an IMAP server
//! such as Dovecot has its new messages moved to `cur/` (unflagged) as
//! soon as a client looks at the mailbox, and they must still be read.
//! What happens to it:
//!
//! | outcome of [`Inbox::ingest`] | the message |
//! |---|---|
//! | stored, or a duplicate | moved to `cur/` with the `S` flag (`NAME:2,S`, other flags kept): kept, never read again |
//! | rejected or too large (also: over [`MaildirOptions::max_message`] before reading) | moved to `DIR/.rejected/cur/` (a Maildir++ folder, created with `new/`, `cur/`, `tmp/` and `maildirfolder`), flags kept; the reason is logged |
//! | the store is unavailable ([`IngestError::is_temporary`](super::IngestError::is_temporary)) | left where it is; the scan stops and the message is retried later (with `--watch` after a back-off, otherwise on the next run) |
//!
//! A message an operator marked seen in a mail client before it was
//! ingested is therefore not read; marking one unseen again re-reads it
//! (a duplicate, counted once).
//!
//! # Crash safety
//!
//! Messages are stored a batch at a time ([`MaildirOptions::batch`],
//! [`Inbox::ingest_many`]: one transaction and one disk sync per batch)
//! and moved only after that transaction committed.
//! Only atomic renames within `DIR` are used and nothing is deleted. A
//! crash between storing a report and renaming its message leaves the
//! message unprocessed: the next scan ingests it again, the store
//! reports a duplicate (unique by organization and report id), and it is
//! counted once. Messages are read only from `new/` and `cur/`, never
//! from `tmp/`: a delivering MTA writes into `tmp/` and renames into
//! `new/` (the Maildir protocol), so a message is never read half
//! written. Two processes reading the same Maildir are safe too: one
//! stores, the other sees a duplicate or finds the file already moved.
//!
//! # Bounds
//!
//! A message larger than [`MaildirOptions::max_message`] (by default
//! tlsrpt-core's [`Limits::max_message`](tlsrpt_core::input::Limits),
//! 64 MiB) is rejected without being read; messages are taken
//! [`MaildirOptions::batch`] at a time, oldest (smallest name) first, so
//! a huge backlog is processed in bounded memory; shutdown is checked
//! between messages.
//!
//! # Watching
//!
//! With `watch`, [`ingest_maildir`] keeps going after the first scan:
//! inotify (the `notify` crate) on `new/` wakes it when a message is
//! delivered (each scan also looks at `cur/`), and a rescan every
//! [`MaildirOptions::rescan_every`] (60 s) is the backstop for missed
//! events and for messages moved into `cur/` by others. It returns
//! when `shutdown` turns true (a dropped sender never asks it to stop).

use std::collections::{BinaryHeap, HashSet};
use std::ffi::OsString;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::{Inbox, IngestError, IngestOutcome, Source};

/// The Maildir++ folder rejected messages are moved to.
pub const REJECTED_FOLDER: &str = ".rejected";

/// A batch stops taking messages once it has read this many bytes (the
/// messages of a batch are held in memory until their transaction
/// commits).
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Settings of [`ingest_maildir_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaildirOptions {
    /// Largest message read, in bytes; a larger one is rejected unread
    /// (default: tlsrpt-core's `Limits::default().max_message`, 64 MiB).
    pub max_message: usize,
    /// How many messages are taken from a directory listing at a time
    /// and stored in one transaction (one disk sync), at most
    /// [`MAX_BATCH_BYTES`] of them (default 256).
    pub batch: usize,
    /// With `watch`: how often the whole Maildir is scanned even without
    /// an inotify event (default 60 s).
    pub rescan_every: Duration,
    /// With `watch`: the first wait before retrying after the store was
    /// unavailable (default 1 s); doubled on each further failure up to
    /// `rescan_every`.
    pub retry_after: Duration,
}

impl Default for MaildirOptions {
    fn default() -> Self {
        Self {
            max_message: tlsrpt_core::input::Limits::default().max_message,
            batch: 256,
            rescan_every: Duration::from_secs(60),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// What a run of [`ingest_maildir`] did, counted per message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaildirCounts {
    /// Stored for the first time (moved to `cur/`, flagged `S`).
    pub stored: u64,
    /// Already stored (moved to `cur/`, flagged `S`).
    pub duplicates: u64,
    /// Rejected (moved to `.rejected/cur/`).
    pub rejected: u64,
    /// Left in place because the store was unavailable (retried later).
    pub deferred: u64,
    /// Could not be read or moved (an I/O error, logged); left in place.
    pub failed: u64,
}

/// Why [`ingest_maildir`] stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaildirError {
    /// `DIR` lacks `new/` or `cur/`.
    #[error("{} is not a Maildir (it needs new/ and cur/)", .0.display())]
    NotAMaildir(PathBuf),
    /// A directory could not be listed or created.
    #[error("maildir {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// inotify could not be set up on `new/`.
    #[error("watching {}: {source}", path.display())]
    Watch {
        /// The directory watched.
        path: PathBuf,
        /// The error.
        #[source]
        source: notify::Error,
    },
}

/// [`ingest_maildir_with`] with the default [`MaildirOptions`].
///
/// # Errors
///
/// See [`ingest_maildir_with`].
pub async fn ingest_maildir(
    inbox: &Inbox,
    dir: &Path,
    watch: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<MaildirCounts, MaildirError> {
    ingest_maildir_with(inbox, dir, &MaildirOptions::default(), watch, shutdown).await
}

/// Ingest every unprocessed message of the Maildir `dir` (see the
/// module docs for what happens to each); with `watch`, keep going
/// until `shutdown` turns true.
///
/// Without `watch` it returns after one scan: [`MaildirCounts::deferred`]
/// is non-zero when the store was unavailable (the rest is left for the
/// next run).
///
/// # Errors
///
/// [`MaildirError`]: `dir` is not a Maildir, a directory cannot be
/// listed or `.rejected` created, or inotify cannot be set up. An error
/// on one message (reading or moving it) is logged and counted in
/// [`MaildirCounts::failed`] instead.
pub async fn ingest_maildir_with(
    inbox: &Inbox,
    dir: &Path,
    options: &MaildirOptions,
    watch: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Result<MaildirCounts, MaildirError> {
    let maildir = Maildir::open(dir)?;
    let mut counts = MaildirCounts::default();
    if !watch {
        maildir.scan(inbox, options, &shutdown, &mut counts).await?;
        return Ok(counts);
    }
    let wake = Arc::new(Notify::new());
    let _watcher = watch_new(&maildir.new, wake.clone())?;
    let mut retry = options.retry_after;
    loop {
        if stopping(&shutdown) {
            return Ok(counts);
        }
        let deferred = maildir.scan(inbox, options, &shutdown, &mut counts).await?;
        let wait = if deferred {
            let wait = retry;
            retry = (retry * 2).min(options.rescan_every);
            tracing::warn!(
                maildir = %dir.display(),
                retry_in = ?wait,
                "the store is unavailable: messages left in place"
            );
            wait
        } else {
            retry = options.retry_after;
            options.rescan_every
        };
        tokio::select! {
            () = wait_shutdown(&mut shutdown) => return Ok(counts),
            () = tokio::time::sleep(wait) => {}
            // After a failure, only the back-off ends the wait: a burst
            // of deliveries must not hammer an unavailable store.
            () = wake.notified(), if !deferred => {
                // Let a burst of deliveries settle into one scan.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Whether shutdown was asked for (`true` sent).
pub(crate) fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow()
}

/// Until `true` is sent; forever when the sender is dropped without
/// sending it (nobody can ask for shutdown any more).
pub(crate) async fn wait_shutdown(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// inotify on `new/`: any creation or rename into it (and any event the
/// backend cannot classify, or a queue overflow) wakes the scanner.
fn watch_new(new: &Path, wake: Arc<Notify>) -> Result<notify::RecommendedWatcher, MaildirError> {
    use notify::event::{EventKind, ModifyKind, RenameMode};
    use notify::{RecursiveMode, Watcher as _};
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(e) => {
                e.need_rescan()
                    || matches!(
                        e.kind,
                        EventKind::Any
                            | EventKind::Other
                            | EventKind::Create(_)
                            | EventKind::Modify(ModifyKind::Name(
                                RenameMode::To | RenameMode::Both | RenameMode::Any
                            ))
                            | EventKind::Modify(ModifyKind::Any)
                    )
            }
            Err(_) => true,
        };
        if relevant {
            wake.notify_one();
        }
    };
    let watch_err = |source| MaildirError::Watch {
        path: new.to_path_buf(),
        source,
    };
    let mut watcher = notify::recommended_watcher(handler).map_err(watch_err)?;
    watcher
        .watch(new, RecursiveMode::NonRecursive)
        .map_err(watch_err)?;
    Ok(watcher)
}

/// Where a message was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Sub {
    New,
    Cur,
}

struct Maildir {
    root: PathBuf,
    new: PathBuf,
    cur: PathBuf,
}

/// A message file name split into its unique part and its flags
/// (`UNIQUE:2,FLAGS`).
fn split_name(name: &str) -> (&str, &str) {
    match name.rsplit_once(":2,") {
        Some((unique, flags)) => (unique, flags),
        None => (name, ""),
    }
}

/// The flags with `flag` added, in ASCII order (as the Maildir
/// convention asks).
fn with_flag(flags: &str, flag: char) -> String {
    let mut all: Vec<char> = flags.chars().filter(|c| *c != flag).collect();
    all.push(flag);
    all.sort_unstable();
    all.dedup();
    all.into_iter().collect()
}

impl Maildir {
    fn open(dir: &Path) -> Result<Self, MaildirError> {
        let new = dir.join("new");
        let cur = dir.join("cur");
        if !new.is_dir() || !cur.is_dir() {
            return Err(MaildirError::NotAMaildir(dir.to_path_buf()));
        }
        Ok(Self {
            root: dir.to_path_buf(),
            new,
            cur,
        })
    }

    /// One pass over `new/` and the unseen messages of `cur/`; returns
    /// whether it stopped because the store was unavailable.
    async fn scan(
        &self,
        inbox: &Inbox,
        options: &MaildirOptions,
        shutdown: &watch::Receiver<bool>,
        counts: &mut MaildirCounts,
    ) -> Result<bool, MaildirError> {
        // Names tried in this scan and left in place (an I/O error): not
        // tried again until the next scan.
        let mut tried: HashSet<(Sub, OsString)> = HashSet::new();
        let batch = options.batch.max(1);
        loop {
            let mut names = list(&self.new, Sub::New, batch, &tried).await?;
            if names.len() < batch {
                let more = batch - names.len();
                names.extend(list(&self.cur, Sub::Cur, more, &tried).await?);
            }
            if names.is_empty() {
                return Ok(false);
            }
            // Read the batch (up to MAX_BATCH_BYTES of messages), store
            // what is usable in one transaction, then move each message:
            // one disk sync per batch, and no message moved before the
            // transaction holding it committed.
            let mut read: Vec<(Sub, OsString, PathBuf)> = Vec::new();
            let mut inputs: Vec<(Vec<u8>, Source)> = Vec::new();
            let mut bytes_read = 0usize;
            for (sub, name) in names {
                if stopping(shutdown) || bytes_read >= MAX_BATCH_BYTES {
                    break;
                }
                match self.read_one(options, sub, &name).await {
                    Ok((path, bytes)) => {
                        bytes_read = bytes_read.saturating_add(bytes.len());
                        inputs.push((bytes, Source::Maildir(path.clone())));
                        read.push((sub, name, path));
                    }
                    Err(step) => {
                        if count(step, sub, name, counts, &mut tried) {
                            return Ok(true);
                        }
                    }
                }
            }
            let outcomes = inbox.ingest_many(&inputs).await;
            for ((sub, name, path), outcome) in read.into_iter().zip(outcomes) {
                let step = self.finish_one(&path, &name, outcome).await;
                if count(step, sub, name, counts, &mut tried) {
                    return Ok(true);
                }
            }
            if stopping(shutdown) {
                return Ok(false);
            }
        }
    }

    /// Read one message: its path and bytes, or what became of it (too
    /// large: rejected; gone; unreadable: left in place).
    async fn read_one(
        &self,
        options: &MaildirOptions,
        sub: Sub,
        name: &OsString,
    ) -> Result<(PathBuf, Vec<u8>), Step> {
        let dir = match sub {
            Sub::New => &self.new,
            Sub::Cur => &self.cur,
        };
        let path = dir.join(name);
        let Some(name) = name.to_str() else {
            // `list` only returns UTF-8 names.
            return Err(Step::Failed);
        };
        let max = options.max_message;
        let read_path = path.clone();
        let read = tokio::task::spawn_blocking(move || read_bounded(&read_path, max)).await;
        match read {
            Ok(Ok(Read::Bytes(b))) => Ok((path, b)),
            Ok(Ok(Read::TooLarge(size))) => {
                let why = format!("the message has {size} bytes, over the limit of {max}");
                Err(self.reject(&path, name, &why).await)
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Err(Step::Done(Done::Gone)),
            Ok(Err(e)) => {
                tracing::error!(file = %path.display(), error = %e, "cannot read the message: left in place");
                Err(Step::Failed)
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "reading the message failed: left in place");
                Err(Step::Failed)
            }
        }
    }

    /// Move a message by what its ingest gave: stored or duplicate to
    /// `cur/` flagged `S`, rejected to the rejected folder; left in place
    /// when the store was unavailable.
    async fn finish_one(
        &self,
        path: &Path,
        name: &OsString,
        outcome: Result<IngestOutcome, IngestError>,
    ) -> Step {
        let Some(name) = name.to_str() else {
            return Step::Failed;
        };
        match outcome {
            Ok(outcome) => {
                let (unique, flags) = split_name(name);
                let target = self
                    .cur
                    .join(format!("{unique}:2,{}", with_flag(flags, 'S')));
                let done = match &outcome {
                    IngestOutcome::Stored {
                        organization,
                        report_id,
                    } => {
                        tracing::debug!(file = %path.display(), %organization, %report_id, "stored: moved as processed");
                        Done::Stored
                    }
                    IngestOutcome::Duplicate {
                        organization,
                        report_id,
                    } => {
                        tracing::debug!(file = %path.display(), %organization, %report_id, "duplicate: moved as processed");
                        Done::Duplicate
                    }
                };
                match move_to(path, &target).await {
                    Ok(()) => Step::Done(done),
                    // Another process moved it first.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Step::Done(Done::Gone),
                    Err(e) => {
                        tracing::error!(file = %path.display(), to = %target.display(), error = %e,
                            "stored, but the message cannot be moved: left in place (read again as a duplicate)");
                        Step::Failed
                    }
                }
            }
            Err(e) if e.is_temporary() => {
                tracing::warn!(file = %path.display(), error = %e, "the store is unavailable: left in place");
                Step::Deferred
            }
            // Rejected or too large (or any other permanent error).
            Err(e) => self.reject(path, name, &e.to_string()).await,
        }
    }

    /// Move a rejected message to `.rejected/cur/`, logging why.
    async fn reject(&self, path: &Path, name: &str, why: &str) -> Step {
        let folder = self.root.join(REJECTED_FOLDER);
        if let Err(e) = make_folder(&folder).await {
            tracing::error!(folder = %folder.display(), error = %e, "cannot create the rejected folder: message left in place");
            return Step::Failed;
        }
        let (unique, flags) = split_name(name);
        let target = folder.join("cur").join(format!("{unique}:2,{flags}"));
        match move_to(path, &target).await {
            Ok(()) => {
                tracing::warn!(file = %path.display(), moved_to = %target.display(), reason = %why, "rejected");
                Step::Done(Done::Rejected)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Step::Done(Done::Gone),
            Err(e) => {
                tracing::error!(file = %path.display(), reason = %why, error = %e,
                    "rejected, but the message cannot be moved: left in place");
                Step::Failed
            }
        }
    }
}

/// Count what became of a message in `counts`; a message left in place
/// by an I/O error goes into `tried` (not tried again in this scan). True
/// when the store was unavailable (the scan stops).
fn count(
    step: Step,
    sub: Sub,
    name: OsString,
    counts: &mut MaildirCounts,
    tried: &mut HashSet<(Sub, OsString)>,
) -> bool {
    match step {
        Step::Done(Done::Stored) => counts.stored += 1,
        Step::Done(Done::Duplicate) => counts.duplicates += 1,
        Step::Done(Done::Rejected) => counts.rejected += 1,
        Step::Done(Done::Gone) => {}
        Step::Failed => {
            counts.failed += 1;
            tried.insert((sub, name));
        }
        Step::Deferred => {
            counts.deferred += 1;
            return true;
        }
    }
    false
}

enum Step {
    Done(Done),
    Deferred,
    Failed,
}

enum Done {
    Stored,
    Duplicate,
    Rejected,
    /// The file went away meanwhile (another process took it).
    Gone,
}

enum Read {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

/// Read a file of at most `max` bytes (checked on its size first, and
/// while reading in case it grows).
fn read_bounded(path: &Path, max: usize) -> io::Result<Read> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    if size > limit {
        return Ok(Read::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Ok(Read::TooLarge(bytes.len() as u64));
    }
    Ok(Read::Bytes(bytes))
}

/// Rename `from` to `to`, never replacing another file: when `to`
/// exists, a `.N` suffix is added to the unique part.
async fn move_to(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let mut target = to.clone();
        let mut n = 1u32;
        while target.exists() && n < 1000 {
            let name = to.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let (unique, flags) = split_name(name);
            target.set_file_name(format!("{unique}.{n}:2,{flags}"));
            n += 1;
        }
        std::fs::rename(&from, &target)
    })
    .await
    .map_err(io::Error::other)?
}

/// Create a Maildir++ folder (`new/`, `cur/`, `tmp/`, `maildirfolder`)
/// if it is missing.
async fn make_folder(folder: &Path) -> io::Result<()> {
    let folder = folder.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(folder.join(sub))?;
        }
        let marker = folder.join("maildirfolder");
        if !marker.exists() {
            std::fs::write(marker, b"")?;
        }
        Ok(())
    })
    .await
    .map_err(io::Error::other)?
}

/// The `max` smallest unprocessed message names in `dir`, sorted (so
/// older deliveries, whose names start with the time, go first; memory
/// stays bounded by `max` however large the directory), leaving out
/// those in `skip`: regular files not starting with `.`, with a UTF-8
/// name; in `cur/` only those without the `S` flag.
async fn list(
    dir: &Path,
    sub: Sub,
    max: usize,
    skip: &HashSet<(Sub, OsString)>,
) -> Result<Vec<(Sub, OsString)>, MaildirError> {
    let path = dir.to_path_buf();
    let skip: HashSet<OsString> = skip
        .iter()
        .filter(|(s, _)| *s == sub)
        .map(|(_, n)| n.clone())
        .collect();
    let listed = tokio::task::spawn_blocking(move || -> io::Result<Vec<OsString>> {
        let mut names = BinaryHeap::with_capacity(max.saturating_add(1));
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(text) = name.to_str() else {
                continue;
            };
            if text.starts_with('.') || skip.contains(&name) {
                continue;
            }
            if sub == Sub::Cur && split_name(text).1.contains('S') {
                continue;
            }
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            // Keep the `max` smallest names: a max-heap drops the largest.
            names.push(name);
            if names.len() > max {
                names.pop();
            }
        }
        Ok(names.into_sorted_vec())
    })
    .await
    .map_err(io::Error::other)
    .and_then(|r| r)
    .map_err(|source| MaildirError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(listed.into_iter().map(|n| (sub, n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags() {
        assert_eq!(split_name("123.M1P2.host"), ("123.M1P2.host", ""));
        assert_eq!(split_name("123.M1P2.host:2,RF"), ("123.M1P2.host", "RF"));
        assert_eq!(with_flag("", 'S'), "S");
        assert_eq!(with_flag("RF", 'S'), "FRS");
        assert_eq!(with_flag("ST", 'S'), "ST");
    }
}
