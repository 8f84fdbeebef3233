//! The TLS-RPT inbox: reports received by HTTPS, pipe, Maildir and IMAP,
//! checked (DKIM for mail), stored once in the site store, summarized
//! from the store, and handed to the alerts.
//!
//! Every input goes through [`Inbox::ingest`]:
//!
//! 1. read with tlsrpt-core's readers and [`Limits`] (JSON, gzip, e-mail;
//!    the shape from the content): an unusable input is
//!    [`IngestError::Rejected`] with the reader's reason, one over the
//!    limits [`IngestError::TooLarge`];
//! 2. for e-mail, DKIM verified ([`dkim::DkimVerifier`], RFC 8460 3):
//!    `pass`, `fail` or `none` with the signing domain is recorded; with
//!    [`InboxOptions::require_dkim`] `fail` and `none` are rejected;
//! 3. stored once by (organization, report-id) ([`store::InboxStore`]):
//!    a report seen again is [`IngestOutcome::Duplicate`], its receipt
//!    kept and logged; a store failure is [`IngestError::Unavailable`]
//!    (retry later: exit 75, HTTP 503);
//! 4. on first store, the alerts hook ([`crate::alerts::Alerter`]);
//! 5. at most once an hour (across nodes), reports received more than
//!    [`InboxOptions::retain_days`] days ago are pruned.
//!
//! The store is blocking; `ingest` calls it on Tokio's blocking pool.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use mtasts_site::inbox::{Inbox, InboxOptions, Source};
//! use mtasts_site::sqlite::SqliteStore;
//!
//! let store = Arc::new(SqliteStore::open(std::path::Path::new("/var/lib/mtasts"))?);
//! let inbox = Inbox::new(store, InboxOptions::default());
//! let bytes = std::fs::read("report.eml")?;
//! let outcome = inbox.ingest(&bytes, &Source::File("report.eml".into())).await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```

pub mod dkim;
pub mod imap;
pub mod maildir;
pub mod pg;
pub mod sqlite;
pub mod store;
pub mod summary;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tlsrpt_core::input::{self, InputError, InputKind, Limits, ReadOptions};
use tlsrpt_core::{Report, Strictness};

use crate::alerts::Alerter;
use crate::store::{SiteStore, StoreError};
use store::{DkimStatus, DkimVerdict, NewReport, PutOutcome};

/// The default of [`InboxOptions::retain_days`] (`--retain-days`).
pub const DEFAULT_RETAIN_DAYS: u32 = 400;

/// Retention runs at most this often (seconds), across nodes.
pub const PRUNE_EVERY_SECS: i64 = 3600;

/// Where a report came from (kept with it, and in the logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file named on the command line.
    File(PathBuf),
    /// Standard input (a mail alias pipe).
    Stdin,
    /// A message file of a Maildir.
    Maildir(PathBuf),
    /// A message of an IMAP mailbox (mailbox name, UID).
    Imap {
        /// The mailbox.
        mailbox: String,
        /// The message's UID.
        uid: u32,
    },
    /// `POST /v1/tlsrpt` from this peer.
    Https {
        /// The peer address.
        peer: IpAddr,
        /// The `Content-Type` (`application/tlsrpt+gzip` or `+json`).
        content_type: String,
    },
}

impl std::fmt::Display for Source {
    /// As stored with the receipt: a path as given, `<stdin>`,
    /// `imap:MAILBOX/UID`, `https:PEER`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) | Self::Maildir(p) => write!(f, "{}", p.display()),
            Self::Stdin => f.write_str("<stdin>"),
            Self::Imap { mailbox, uid } => write!(f, "imap:{mailbox}/{uid}"),
            Self::Https { peer, .. } => write!(f, "https:{peer}"),
        }
    }
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored for the first time.
    Stored {
        /// The report's organization name.
        organization: String,
        /// The report id.
        report_id: String,
    },
    /// Already stored (same organization and report id): counted once.
    Duplicate {
        /// The report's organization name.
        organization: String,
        /// The report id.
        report_id: String,
    },
}

/// Why an input was not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The input is not a usable report (exit 1, HTTP 400): the reason.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The input is larger than the limits allow (HTTP 413).
    #[error("too large: {0}")]
    TooLarge(String),
    /// The store is unavailable: try again later (exit 75, HTTP 503).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] StoreError),
    /// DKIM is required and the signing key could not be fetched for a
    /// reason that may pass (DNS timeout, SERVFAIL), or an e-mail came and
    /// the system's resolver configuration could not be read to verify
    /// it: try again later (exit 75).
    #[error("DKIM key lookup failed for now: {0}")]
    DkimUnavailable(String),
}

impl IngestError {
    /// True when retrying later may succeed (the store was unavailable,
    /// or a required DKIM key could not be fetched for now).
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::DkimUnavailable(_))
    }
}

/// How an [`Inbox`] reads, checks and keeps reports.
#[derive(Debug, Clone)]
pub struct InboxOptions {
    /// Size limits of the readers.
    pub limits: Limits,
    /// Reject mail inputs whose DKIM result is `fail` or `none`
    /// (`--require-dkim`); default: accept and record.
    pub require_dkim: bool,
    /// The DNS server (IP:PORT) asked for DKIM keys
    /// (`--dkim-resolver`); `None`: the system's resolvers.
    pub dkim_resolver: Option<SocketAddr>,
    /// Keep reports received at most this many days ago
    /// (`--retain-days`); `None` keeps everything.
    pub retain_days: Option<u32>,
    /// Called after a report is stored for the first time.
    pub alerter: Option<Arc<Alerter>>,
}

impl Default for InboxOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            require_dkim: false,
            dkim_resolver: None,
            retain_days: Some(DEFAULT_RETAIN_DAYS),
            alerter: None,
        }
    }
}

/// The inbox: one per process, shared by every input.
#[derive(Debug)]
pub struct Inbox {
    store: Arc<dyn SiteStore>,
    options: InboxOptions,
    /// Made at the first e-mail input (HTTPS and JSON inputs need no
    /// resolver); a failure to make it is tried again at the next one.
    dkim: std::sync::OnceLock<dkim::DkimVerifier>,
}

/// The current time (Unix seconds).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A store error for a blocking task that did not finish.
fn task_error(e: &tokio::task::JoinError) -> StoreError {
    StoreError::Io {
        path: PathBuf::from("(inbox store task)"),
        source: std::io::Error::other(e.to_string()),
    }
}

impl Inbox {
    /// An inbox storing into `store`. The DKIM verifier is made at the
    /// first e-mail input: a process that takes no mail (`mtasts serve`'s
    /// `POST /v1/tlsrpt` takes JSON and gzip) needs no resolver
    /// configuration.
    #[must_use]
    pub fn new(store: Arc<dyn SiteStore>, options: InboxOptions) -> Self {
        Self {
            store,
            options,
            dkim: std::sync::OnceLock::new(),
        }
    }

    /// The DKIM verifier, made now if it is not yet.
    ///
    /// # Errors
    ///
    /// [`IngestError::DkimUnavailable`] when no DKIM resolver is given
    /// and the system's resolver configuration cannot be read (a
    /// temporary failure: the input is tried again later, and so is the
    /// configuration).
    fn dkim(&self) -> Result<&dkim::DkimVerifier, IngestError> {
        if let Some(v) = self.dkim.get() {
            return Ok(v);
        }
        let made = dkim::DkimVerifier::new(self.options.dkim_resolver)
            .map_err(|e| IngestError::DkimUnavailable(e.to_string()))?;
        // Another thread may have made one meanwhile: either serves.
        Ok(self.dkim.get_or_init(|| made))
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn SiteStore> {
        &self.store
    }

    /// Read, check, store one input (JSON, gzip or e-mail bytes), and
    /// raise alerts for its failures.
    ///
    /// # Errors
    ///
    /// [`IngestError`]: rejected, too large, or the store unavailable.
    pub async fn ingest(
        &self,
        bytes: &[u8],
        source: &Source,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest_at(bytes, source, now_secs()).await
    }

    /// [`Inbox::ingest`] at `now` (Unix seconds): the receipt time, the
    /// retention clock and the alerts' time.
    ///
    /// # Errors
    ///
    /// As [`Inbox::ingest`].
    pub async fn ingest_at(
        &self,
        bytes: &[u8],
        source: &Source,
        now: i64,
    ) -> Result<IngestOutcome, IngestError> {
        let prepared = self.prepare(bytes, source, now).await?;
        let mut out = self.store_batch(vec![prepared], now).await?;
        out.pop()
            .ok_or_else(|| IngestError::Rejected("nothing was stored".to_owned()))
    }

    /// Read and check one input (steps 1 and 2 of the module docs).
    async fn prepare(
        &self,
        bytes: &[u8],
        source: &Source,
        now: i64,
    ) -> Result<(Report<'static>, NewReport), IngestError> {
        let read = input::read_report(
            bytes,
            &ReadOptions {
                limits: self.options.limits,
                strictness: Strictness::Lenient,
            },
        )
        .map_err(|e| match e {
            InputError::TooLarge { .. } => IngestError::TooLarge(e.to_string()),
            e => IngestError::Rejected(e.to_string()),
        })?;
        let kind = read.value.extracted.kind;
        let report: Report<'static> = read.value.report;
        let (dkim, temporary) = if kind == InputKind::Email {
            self.dkim()?.verify_detailed(bytes).await
        } else {
            (DkimVerdict::none(), false)
        };
        if self.options.require_dkim && temporary {
            return Err(IngestError::DkimUnavailable(format!(
                "no signature verified and the key of {} could not be fetched (DNS); retry later",
                dkim.domain.as_deref().unwrap_or("the signer")
            )));
        }
        if temporary {
            tracing::warn!(
                domain = dkim.domain.as_deref().unwrap_or(""),
                "DKIM key lookup failed temporarily; recorded as fail"
            );
        }
        if self.options.require_dkim && kind == InputKind::Email && dkim.status != DkimStatus::Pass
        {
            return Err(IngestError::Rejected(format!(
                "DKIM {}{} and --require-dkim is set (RFC 8460 3: report mail must be DKIM-signed)",
                dkim.status,
                dkim.domain
                    .as_deref()
                    .map(|d| format!(" (d={d})"))
                    .unwrap_or_default()
            )));
        }
        let source_name = source.to_string();
        let new = NewReport::new(&report, bytes, dkim, source_name.clone(), now).map_err(|e| {
            IngestError::Unavailable(StoreError::Io {
                path: PathBuf::from(&source_name),
                source: e,
            })
        })?;
        Ok((report, new))
    }

    /// Store prepared reports in one transaction (steps 3 to 5), log each
    /// and call the alerts hook for each stored for the first time.
    async fn store_batch(
        &self,
        batch: Vec<(Report<'static>, NewReport)>,
        now: i64,
    ) -> Result<Vec<IngestOutcome>, IngestError> {
        let (reports, rows): (Vec<Report<'static>>, Vec<NewReport>) = batch.into_iter().unzip();
        let store = Arc::clone(&self.store);
        let retain = self.options.retain_days;
        let (outcomes, rows) = tokio::task::spawn_blocking(move || {
            let outcomes = store.inbox().put_reports(&rows)?;
            if let Some(days) = retain
                && store.inbox().claim_prune(now, PRUNE_EVERY_SECS)?
            {
                let before = now.div_euclid(86_400) - i64::from(days);
                match store.inbox().prune(before) {
                    Ok(n) if n > 0 => tracing::info!(reports = n, "retention: pruned old reports"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention: prune failed"),
                }
            }
            Ok::<_, StoreError>((outcomes, rows))
        })
        .await
        .map_err(|e| IngestError::Unavailable(task_error(&e)))?
        .map_err(IngestError::Unavailable)?;
        let mut out = Vec::with_capacity(outcomes.len());
        for ((report, row), put) in reports.iter().zip(&rows).zip(outcomes) {
            let organization = row.organization.clone();
            let report_id = row.report_id.clone();
            match put {
                PutOutcome::Stored => {
                    tracing::info!(
                        organization = %organization,
                        report_id = %report_id,
                        source = %row.source,
                        dkim = %row.dkim.status,
                        "report stored"
                    );
                    if let Some(alerter) = &self.options.alerter {
                        alerter.on_report(report, now).await;
                    }
                    out.push(IngestOutcome::Stored {
                        organization,
                        report_id,
                    });
                }
                PutOutcome::Duplicate => {
                    tracing::info!(
                        organization = %organization,
                        report_id = %report_id,
                        source = %row.source,
                        "duplicate report: already stored, receipt counted"
                    );
                    out.push(IngestOutcome::Duplicate {
                        organization,
                        report_id,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Ingest several inputs, storing the usable ones in one transaction
    /// (one disk sync for the lot, where [`Inbox::ingest`] syncs each);
    /// returns the outcome of each input, in order. An input that cannot
    /// be used gets its own error; when the store fails, every usable
    /// input gets [`IngestError::Unavailable`]. The Maildir input stores
    /// its messages this way, a batch at a time.
    pub async fn ingest_many(
        &self,
        inputs: &[(Vec<u8>, Source)],
    ) -> Vec<Result<IngestOutcome, IngestError>> {
        let now = now_secs();
        let mut out: Vec<Option<Result<IngestOutcome, IngestError>>> =
            (0..inputs.len()).map(|_| None).collect();
        let mut pending = Vec::new();
        let mut slots = Vec::new();
        for (slot, (bytes, source)) in inputs.iter().enumerate() {
            match self.prepare(bytes, source, now).await {
                Ok(p) => {
                    pending.push(p);
                    slots.push(slot);
                }
                Err(e) => out[slot] = Some(Err(e)),
            }
        }
        if !pending.is_empty() {
            match self.store_batch(pending, now).await {
                Ok(outcomes) => {
                    for (slot, o) in slots.into_iter().zip(outcomes) {
                        out[slot] = Some(Ok(o));
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    for slot in slots {
                        out[slot] = Some(Err(IngestError::Unavailable(StoreError::Io {
                            path: PathBuf::from(inputs[slot].1.to_string()),
                            source: std::io::Error::other(why.clone()),
                        })));
                    }
                }
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Err(IngestError::Rejected("not read".to_owned()))))
            .collect()
    }

    /// Ingest files (a Maildir's `new/` listing, a directory of reports),
    /// each as [`Source::Maildir`], storing up to `batch` reports per
    /// transaction ([`Inbox::ingest_many`]; 1 is [`Inbox::ingest`] file by
    /// file); returns the outcome of each file, in order. For benchmarks
    /// (`benches/README.md` figures) and batch imports. A file that cannot
    /// be read is [`IngestError::Rejected`], one larger than
    /// [`Limits::max_message`] [`IngestError::TooLarge`] (not read).
    pub async fn ingest_files(
        &self,
        files: &[PathBuf],
        batch: usize,
    ) -> Vec<Result<IngestOutcome, IngestError>> {
        let mut out = Vec::with_capacity(files.len());
        for chunk in files.chunks(batch.max(1)) {
            let mut inputs = Vec::new();
            let mut read: Vec<Option<IngestError>> = Vec::new();
            for f in chunk {
                match self.read_file(f) {
                    Ok(bytes) => {
                        inputs.push((bytes, Source::Maildir(f.clone())));
                        read.push(None);
                    }
                    Err(e) => read.push(Some(e)),
                }
            }
            let mut stored = self.ingest_many(&inputs).await.into_iter();
            for r in read {
                out.push(match r {
                    Some(e) => Err(e),
                    None => stored
                        .next()
                        .unwrap_or_else(|| Err(IngestError::Rejected("not read".to_owned()))),
                });
            }
        }
        out
    }

    /// A file's bytes, at most [`Limits::max_message`].
    fn read_file(&self, f: &std::path::Path) -> Result<Vec<u8>, IngestError> {
        use std::io::Read as _;
        let max = self.options.limits.max_message;
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        let mut bytes = Vec::new();
        std::fs::File::open(f)
            .and_then(|file| file.take(limit).read_to_end(&mut bytes))
            .map_err(|e| IngestError::Rejected(format!("{}: {e}", f.display())))?;
        if bytes.len() > max {
            return Err(IngestError::TooLarge(format!(
                "{}: larger than the limit of {max} bytes",
                f.display()
            )));
        }
        Ok(bytes)
    }
}
