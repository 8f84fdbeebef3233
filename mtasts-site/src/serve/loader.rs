//! The refresher: one thread (the store's clients are blocking) that
//! polls the store's generation, reloads the domains and the stored
//! certificates when it changed, re-scans `--cert-dir` and purges
//! removed domains. It never runs on the request path: the listeners
//! read the snapshot it publishes.

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use tracing::{debug, info, warn};

use policy_fetch::error::Chain;

use super::certfiles::{CertDir, LoadedCert, load_pem};
use super::{Refreshed, ServeError, Shared, Snapshot, unix_now};
use crate::certs::CertResolver;
use crate::store::{SiteStore, StoredCertificate};

/// What the thread is asked to do.
pub(crate) enum Command {
    /// Reload the store and re-read every certificate file now.
    Reload(tokio::sync::oneshot::Sender<Result<Refreshed, ServeError>>),
    /// Stop.
    Stop,
}

/// How often the thread does what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Intervals {
    pub(crate) store: Duration,
    pub(crate) cert_dir: Duration,
    pub(crate) purge: Duration,
}

/// The certificates of one host name from each source.
#[derive(Debug, Default)]
struct HostCerts {
    file: Option<LoadedCert>,
    store: Option<LoadedCert>,
}

impl HostCerts {
    /// The certificate presented: the one expiring later.
    fn best(&self) -> Option<&LoadedCert> {
        match (&self.file, &self.store) {
            (Some(f), Some(s)) => Some(if s.not_after > f.not_after { s } else { f }),
            (Some(c), None) | (None, Some(c)) => Some(c),
            (None, None) => None,
        }
    }
}

/// A stored certificate as last parsed: what identifies its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredStamp {
    updated_at: i64,
    not_after: i64,
    digest: u64,
}

fn stored_stamp(c: &StoredCertificate) -> StoredStamp {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.chain_pem.hash(&mut h);
    c.key_pem.hash(&mut h);
    StoredStamp {
        updated_at: c.updated_at,
        not_after: c.not_after,
        digest: h.finish(),
    }
}

/// The refresher's state (owned by its thread).
pub(crate) struct Loader {
    store: Arc<dyn SiteStore>,
    shared: Arc<Shared>,
    cert_dir: Option<CertDir>,
    certs: HashMap<String, HostCerts>,
    /// The stamps of the stored certificates parsed (or found broken).
    stored: HashMap<String, StoredStamp>,
    generation: Option<u64>,
    /// Whether the last poll failed (to log the recovery once).
    failing: bool,
}

impl Loader {
    pub(crate) fn new(
        store: Arc<dyn SiteStore>,
        shared: Arc<Shared>,
        cert_dir: Option<CertDir>,
    ) -> Self {
        Self {
            store,
            shared,
            cert_dir,
            certs: HashMap::new(),
            stored: HashMap::new(),
            generation: None,
            failing: false,
        }
    }

    fn resolver(&self) -> &CertResolver {
        &self.shared.resolver
    }

    /// The first load: the certificate directory must be readable and the
    /// store must answer.
    pub(crate) fn initial(&mut self) -> Result<Refreshed, ServeError> {
        if let Some(dir) = &mut self.cert_dir {
            let path = dir.path().to_owned();
            let problems = dir
                .scan(true)
                .map_err(|source| ServeError::CertDir { path, source })?;
            for p in problems {
                self.shared.metrics.cert_dir_error();
                warn!(dir = %p.dir.display(), error = %Chain(&p.error), "certificate not loaded");
            }
            self.apply_files();
        }
        // Purge first: the load then sees what is left.
        self.purge();
        self.refresh_store(true)?;
        Ok(self.summary())
    }

    fn summary(&self) -> Refreshed {
        Refreshed {
            generation: self.generation,
            domains: self.shared.snapshot().policies.len(),
            certificates: self.resolver().hosts().len(),
        }
    }

    /// Run until [`Command::Stop`] or the server is dropped.
    pub(crate) fn run(mut self, commands: &Receiver<Command>, every: Intervals) {
        let mut last_scan = Instant::now();
        let mut last_purge = Instant::now();
        loop {
            match commands.recv_timeout(every.store) {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Command::Reload(reply)) => {
                    info!("reloading: store and certificate files");
                    self.scan_files(true);
                    last_scan = Instant::now();
                    let r = self.refresh_store(true).map(|()| self.summary());
                    match &r {
                        Ok(s) => info!(
                            generation = s.generation,
                            domains = s.domains,
                            certificates = s.certificates,
                            "reloaded"
                        ),
                        Err(e) => {
                            warn!(error = %Chain(e), "reload failed; the previous snapshot stays served")
                        }
                    }
                    let _ = reply.send(r);
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.refresh_store(false);
                }
            }
            if last_scan.elapsed() >= every.cert_dir {
                self.scan_files(false);
                last_scan = Instant::now();
            }
            if last_purge.elapsed() >= every.purge {
                self.purge();
                last_purge = Instant::now();
            }
        }
        debug!("refresher stopped");
    }

    /// Delete the domains whose removal period ended.
    fn purge(&self) {
        match self.store.purge_removed(unix_now()) {
            Ok(gone) => {
                for d in gone {
                    info!(domain = d, "removal period over: domain deleted");
                }
            }
            Err(e) => {
                self.shared.metrics.store_refresh(false);
                warn!(error = %Chain(&e), "purging removed domains failed");
            }
        }
    }

    /// Poll the generation; reload when it changed (or with `force`).
    /// On failure the previous snapshot stays.
    fn refresh_store(&mut self, force: bool) -> Result<(), ServeError> {
        match self.try_refresh(force) {
            Ok(()) => {
                if self.failing {
                    info!("site store reachable again");
                    self.failing = false;
                }
                self.shared.metrics.store_refresh(true);
                Ok(())
            }
            Err(e) => {
                self.shared.metrics.store_refresh(false);
                if !self.failing || force {
                    warn!(error = %Chain(&e), "site store refresh failed; serving the last snapshot");
                }
                self.failing = true;
                Err(ServeError::Store(e))
            }
        }
    }

    fn try_refresh(&mut self, force: bool) -> Result<(), crate::store::StoreError> {
        let generation = self.store.generation()?;
        if !force && self.generation == Some(generation) {
            return Ok(());
        }
        let domains = self.store.domains()?;
        let stored = self.store.certificates()?;
        let mut policies = HashMap::with_capacity(domains.len());
        for d in &domains {
            policies.insert(
                format!("mta-sts.{}", d.name),
                super::ServedPolicy {
                    body: Bytes::from(d.current.body.clone()),
                    id: d.current.id.clone(),
                },
            );
        }
        let count = policies.len();
        self.shared.publish(Snapshot {
            generation: Some(generation),
            policies,
        });
        self.shared.metrics.set_snapshot(count, generation);
        debug!(generation, domains = count, "snapshot loaded");
        self.generation = Some(generation);
        self.apply_stored(&stored);
        Ok(())
    }

    /// Parse the stored certificates that changed; present the better of
    /// file and store per host.
    fn apply_stored(&mut self, stored: &[StoredCertificate]) {
        let mut present: Vec<String> = Vec::with_capacity(stored.len());
        for c in stored {
            let host = c.host.trim_end_matches('.').to_ascii_lowercase();
            present.push(host.clone());
            let stamp = stored_stamp(c);
            if self.stored.get(&host) == Some(&stamp) {
                continue;
            }
            self.stored.insert(host.clone(), stamp);
            match load_pem(
                &c.chain_pem,
                &c.key_pem,
                &format!("stored certificate of {host}"),
            ) {
                Ok(cert) => {
                    self.certs.entry(host.clone()).or_default().store = Some(cert);
                    self.apply(&host);
                }
                Err(e) => {
                    self.shared.metrics.store_refresh(false);
                    warn!(host, error = %Chain(&e), "stored certificate not usable");
                }
            }
        }
        let gone: Vec<String> = self
            .stored
            .keys()
            .filter(|h| !present.contains(h))
            .cloned()
            .collect();
        for host in gone {
            self.stored.remove(&host);
            if let Some(h) = self.certs.get_mut(&host) {
                h.store = None;
            }
            self.apply(&host);
        }
        self.update_cert_metrics();
    }

    /// Re-scan the certificate directory.
    fn scan_files(&mut self, force: bool) {
        let Some(dir) = &mut self.cert_dir else {
            return;
        };
        match dir.scan(force) {
            Ok(problems) => {
                for p in problems {
                    self.shared.metrics.cert_dir_error();
                    warn!(dir = %p.dir.display(), error = %Chain(&p.error), "certificate not (re)loaded; the previous one stays");
                }
            }
            Err(e) => {
                self.shared.metrics.cert_dir_error();
                warn!(dir = %dir.path().display(), error = %Chain(&e), "certificate directory unreadable; the loaded certificates stay");
                return;
            }
        }
        self.apply_files();
    }

    /// Take the directory's certificates by host.
    fn apply_files(&mut self) {
        let Some(dir) = &self.cert_dir else { return };
        let mut files = dir.by_host();
        let hosts: Vec<String> = self
            .certs
            .keys()
            .chain(files.keys())
            .cloned()
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        for host in hosts {
            let new = files.remove(&host);
            let entry = self.certs.entry(host.clone()).or_default();
            let same = match (&entry.file, &new) {
                (Some(a), Some(b)) => Arc::ptr_eq(&a.key, &b.key),
                (None, None) => true,
                _ => false,
            };
            if !same {
                if let Some(c) = &new {
                    info!(
                        host,
                        not_after = c.not_after,
                        "certificate loaded from file"
                    );
                }
                entry.file = new;
                self.apply(&host);
            }
        }
        self.update_cert_metrics();
    }

    /// Present the best certificate of `host` (or none).
    fn apply(&mut self, host: &str) {
        match self.certs.get(host).and_then(HostCerts::best) {
            Some(c) => self
                .shared
                .resolver
                .set_certificate(host, Arc::clone(&c.key)),
            None => {
                self.certs.remove(host);
                self.shared.resolver.remove_certificate(host);
            }
        }
    }

    fn update_cert_metrics(&self) {
        let earliest = self
            .certs
            .values()
            .filter_map(HostCerts::best)
            .map(|c| c.not_after)
            .min();
        self.shared
            .metrics
            .set_certificates(self.certs.len(), earliest);
    }
}
