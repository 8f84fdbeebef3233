//! Certificates obtained and renewed over ACME (RFC 8555) with
//! [instant-acme](https://docs.rs/instant-acme) (on *ring*).
//!
//! [`spawn`] starts the manager `serve` runs: every
//! [`check_interval`](AcmeConfig::check_interval) it looks at
//! `mta-sts.<domain>` of every hosted domain and orders a certificate for
//! each name that has none in the store or whose certificate expires
//! within [`renew_before`](AcmeConfig::renew_before) (30 days), once the
//! name's back-off has passed:
//!
//! 1. it claims the name in the store ([`SiteStore::claim_order`]) for
//!    [`CLAIM_LEASE`], so that of several nodes sharing one database only
//!    one orders a name at a time (and re-checks the store after the
//!    claim: another node may just have stored a certificate);
//! 2. it loads the ACME account of the directory from the store, or
//!    creates one and stores its credentials;
//! 3. it answers the challenge through the [`CertResolver`]: TLS-ALPN-01
//!    (RFC 8737) with a self-signed certificate carrying the
//!    `acmeIdentifier` extension, presented on the HTTPS listener to
//!    clients offering ALPN `acme-tls/1`; or HTTP-01 with the key
//!    authorization on the plain HTTP listener;
//! 4. it polls the order (from 250 ms, doubling, at most
//!    [`MAX_POLL_DELAY`] apart), finalizes it with a CSR for a fresh
//!    ECDSA P-256 key, fetches the chain, stores it with the leaf's
//!    notAfter and presents it at once; the whole order is bounded by
//!    [`ORDER_TIMEOUT`];
//! 5. it records the outcome ([`SiteStore::finish_order`], which also
//!    gives up the claim): a success resets the failure count; a failure
//!    adds one and sets the next attempt [`backoff`] later (1 minute,
//!    doubling per consecutive failure, at most 1 day), and is logged
//!    with the name.
//!
//! At most [`MAX_CONCURRENT_ORDERS`] orders run at a time per node.
//! Every store call runs on the blocking pool (`spawn_blocking`): the
//! PostgreSQL client blocks. The manager also presents certificates that
//! another node stored.
//!
//! [`AcmeManager::order_now`] orders one name at once (for tests and a
//! `mtasts domain cert` command), through the same claim.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier,
    NewAccount, NewOrder, Order, OrderStatus as AcmeOrderStatus,
};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::certs::CertResolver;
use crate::pem::{PemError, certified_key_from_pem, chain_from_pem};
use crate::store::{OrderStatus, SiteStore, StoreError, StoredCertificate};

/// Which challenge the ACME server is asked to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// TLS-ALPN-01 (RFC 8737) on the HTTPS listener.
    TlsAlpn01,
    /// HTTP-01 on the plain HTTP listener (`--http`).
    Http01,
}

impl Challenge {
    /// The challenge's name in ACME (`tls-alpn-01`, `http-01`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TlsAlpn01 => "tls-alpn-01",
            Self::Http01 => "http-01",
        }
    }

    fn acme_type(self) -> ChallengeType {
        match self {
            Self::TlsAlpn01 => ChallengeType::TlsAlpn01,
            Self::Http01 => ChallengeType::Http01,
        }
    }
}

/// How `serve` obtains certificates over ACME.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The directory URL (`--acme-directory`).
    pub directory: String,
    /// Contact URIs (`--acme-contact mailto:...`).
    pub contact: Vec<String>,
    /// A PEM file whose (first) certificate is trusted for the ACME
    /// server's own HTTPS instead of the system roots (a test CA such as
    /// pebble's); the system roots when `None`.
    pub server_roots: Option<PathBuf>,
    /// The challenge to use.
    pub challenge: Challenge,
    /// Renew this long before notAfter (30 days).
    pub renew_before: Duration,
    /// How often to look for names that need a certificate.
    pub check_interval: Duration,
    /// This node's name in order claims (host name and process id).
    pub node_id: String,
}

/// The default of [`AcmeConfig::renew_before`]: 30 days.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// The default of [`AcmeConfig::check_interval`]: 10 minutes.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(600);

/// The most orders one node runs at a time.
pub const MAX_CONCURRENT_ORDERS: usize = 4;

/// The longest one order may take, from the new order to the stored
/// certificate; it fails (and backs off) after that.
pub const ORDER_TIMEOUT: Duration = Duration::from_secs(180);

/// How long a claim on a name lasts (longer than [`ORDER_TIMEOUT`]; a
/// node that dies while ordering blocks the name for at most this long).
pub const CLAIM_LEASE: Duration = Duration::from_secs(600);

/// The first delay between two polls of an order.
pub const FIRST_POLL_DELAY: Duration = Duration::from_millis(250);

/// The longest delay between two polls of an order.
pub const MAX_POLL_DELAY: Duration = Duration::from_secs(5);

/// The problem type of a request signed by an account the server does not
/// know (RFC 8555 section 6.7).
const ACCOUNT_DOES_NOT_EXIST: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// The back-off after the first failed order of a name.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);

/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(86_400);

impl AcmeConfig {
    /// A configuration for `directory` with the defaults: no contact, the
    /// system roots, TLS-ALPN-01, [`DEFAULT_RENEW_BEFORE`],
    /// [`DEFAULT_CHECK_INTERVAL`].
    #[must_use]
    pub fn new(directory: impl Into<String>, node_id: impl Into<String>) -> Self {
        Self {
            directory: directory.into(),
            contact: Vec::new(),
            server_roots: None,
            challenge: Challenge::TlsAlpn01,
            renew_before: DEFAULT_RENEW_BEFORE,
            check_interval: DEFAULT_CHECK_INTERVAL,
            node_id: node_id.into(),
        }
    }
}

/// The wait before the next order after `failures` consecutive failed
/// orders: 1 minute after the first, doubling with each further failure
/// (2, 4, 8, ... minutes), at most 1 day (from the 12th failure on).
#[must_use]
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    FIRST_BACKOFF
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF)
}

/// The host name whose certificate a hosted domain needs:
/// `mta-sts.<domain>`.
#[must_use]
pub fn policy_host(domain: &str) -> String {
    format!("mta-sts.{}", domain.trim_end_matches('.'))
}

/// Why an order (or the manager's look at the store) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// The site store failed.
    #[error("ACME: {0}")]
    Store(#[from] StoreError),
    /// A blocking store call did not complete (its task panicked or was
    /// cancelled).
    #[error("ACME: a store task failed: {0}")]
    Task(String),
    /// The ACME server refused a request or could not be reached.
    #[error("{host}: ACME {step} at {directory}: {source}")]
    Acme {
        /// The name ordered (empty for account requests).
        host: String,
        /// What was being done (`account`, `new order`, ...).
        step: &'static str,
        /// The directory URL.
        directory: String,
        /// instant-acme's error (with the server's problem document).
        #[source]
        source: Box<instant_acme::Error>,
    },
    /// The stored account credentials could not be read.
    #[error("ACME account for {directory}: unreadable stored credentials: {source}")]
    Credentials {
        /// The directory URL.
        directory: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The server offered no challenge of the configured type.
    #[error("{host}: the ACME server offers no {challenge} challenge")]
    NoChallenge {
        /// The name ordered.
        host: String,
        /// The configured challenge.
        challenge: &'static str,
    },
    /// The authorization or the order became invalid (validation failed).
    #[error("{host}: the ACME order failed: {detail}")]
    Invalid {
        /// The name ordered.
        host: String,
        /// The server's reasons (challenge and order problems).
        detail: String,
    },
    /// The order did not complete within [`ORDER_TIMEOUT`].
    #[error("{host}: the ACME order did not complete within {}s", .after.as_secs())]
    Timeout {
        /// The name ordered.
        host: String,
        /// The time allowed.
        after: Duration,
    },
    /// The challenge certificate or the CSR could not be made.
    #[error("{host}: making the {what}: {source}")]
    Keys {
        /// The name ordered.
        host: String,
        /// `challenge certificate` or `certificate request`.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A key could not be loaded for signing.
    #[error("{host}: loading the {what} key: {source}")]
    Signing {
        /// The name ordered.
        host: String,
        /// Which key.
        what: &'static str,
        /// rustls' error.
        #[source]
        source: rustls::Error,
    },
    /// The issued chain is unusable.
    #[error("{host}: the issued certificate is unusable: {source}")]
    Certificate {
        /// The name ordered.
        host: String,
        /// What is wrong with it.
        #[source]
        source: PemError,
    },
    /// The issued leaf could not be parsed or does not name the host.
    #[error("{host}: the issued certificate is unusable: {detail}")]
    Leaf {
        /// The name ordered.
        host: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Another node (or this one) is ordering the name's certificate.
    #[error("{host}: its certificate is being ordered already")]
    Claimed {
        /// The name.
        host: String,
    },
}

use crate::Chain;

/// Now, in Unix seconds.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// What one order of the manager came to.
#[derive(Debug)]
pub struct OrderOutcome {
    /// The name ordered.
    pub host: String,
    /// The stored certificate, or why the order failed.
    pub result: Result<StoredCertificate, AcmeError>,
}

/// Clears the challenge responses of an order from the resolver when
/// dropped (on success, failure and cancellation alike).
struct ChallengeCleanup {
    resolver: Arc<CertResolver>,
    alpn: Vec<String>,
    tokens: Vec<String>,
}

impl Drop for ChallengeCleanup {
    fn drop(&mut self) {
        for host in &self.alpn {
            self.resolver.clear_alpn_challenge(host);
        }
        for token in &self.tokens {
            self.resolver.clear_http_token(token);
        }
    }
}

/// Removes a name from the in-flight set when dropped.
struct InFlight {
    set: Arc<Mutex<HashSet<String>>>,
    host: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.set).remove(&self.host);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The ACME certificate manager of one node (see the module docs).
pub struct AcmeManager {
    config: AcmeConfig,
    store: Arc<dyn SiteStore>,
    resolver: Arc<CertResolver>,
    account: tokio::sync::Mutex<Option<Account>>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    slots: Arc<Semaphore>,
    /// The `updated_at` of the stored certificate last presented, by host.
    presented: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for AcmeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeManager")
            .field("config", &self.config)
            .field("in_flight", &lock(&self.in_flight).len())
            .finish_non_exhaustive()
    }
}

impl AcmeManager {
    /// A manager ordering through `config`, keeping certificates in
    /// `store` and presenting them (and the challenges) in `resolver`.
    #[must_use]
    pub fn new(
        config: AcmeConfig,
        store: Arc<dyn SiteStore>,
        resolver: Arc<CertResolver>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            store,
            resolver,
            account: tokio::sync::Mutex::new(None),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_ORDERS)),
            presented: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AcmeConfig {
        &self.config
    }

    /// Run `f` on the store on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T, AcmeError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SiteStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| AcmeError::Task(e.to_string()))?
            .map_err(AcmeError::Store)
    }

    /// One look at the store, waiting for the orders it starts: presents
    /// stored certificates not presented yet, then orders every name that
    /// needs a certificate and whose back-off has passed (at most
    /// [`MAX_CONCURRENT_ORDERS`] at a time). Returns the outcome of each
    /// order started.
    ///
    /// # Errors
    ///
    /// [`AcmeError`] when the store cannot be read.
    pub async fn check_now(self: &Arc<Self>) -> Result<Vec<OrderOutcome>, AcmeError> {
        let mut tasks = JoinSet::new();
        let mut outcomes: Vec<OrderOutcome> = Vec::new();
        // Each name at most once per call, even if its outcome could not
        // be recorded.
        let mut ordered = HashSet::new();
        loop {
            let started = self.start_due(&mut tasks, &ordered).await?;
            if started == 0 && tasks.is_empty() {
                break;
            }
            match tasks.join_next().await {
                Some(Ok(outcome)) => {
                    ordered.insert(outcome.host.clone());
                    outcomes.push(outcome);
                }
                Some(Err(e)) => return Err(AcmeError::Task(e.to_string())),
                None => break,
            }
        }
        Ok(outcomes)
    }

    /// Start an order in `tasks` for every due name not in `skip` that
    /// this node can take now; returns how many were started.
    async fn start_due(
        self: &Arc<Self>,
        tasks: &mut JoinSet<OrderOutcome>,
        skip: &HashSet<String>,
    ) -> Result<usize, AcmeError> {
        let now = unix_now();
        let renew_before = secs(self.config.renew_before);
        let (hosts, certs) = self
            .blocking(|s| {
                let hosts: Vec<String> =
                    s.domains()?.iter().map(|d| policy_host(&d.name)).collect();
                Ok((hosts, s.certificates()?))
            })
            .await?;
        let certs: HashMap<String, StoredCertificate> =
            certs.into_iter().map(|c| (c.host.clone(), c)).collect();
        let mut needing = Vec::new();
        for host in hosts {
            match certs.get(&host) {
                Some(cert) => {
                    self.present_stored(cert);
                    if cert.not_after.saturating_sub(now) <= renew_before {
                        needing.push(host);
                    }
                }
                None => needing.push(host),
            }
        }
        let mut started = 0;
        for host in needing {
            if skip.contains(&host) {
                continue;
            }
            // Taken before the claim (the claim is per node, not per task).
            let Some(guard) = self.begin(&host) else {
                continue;
            };
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            let Some(previous) = self.claim_if_due(&host, now, true).await? else {
                continue;
            };
            let me = self.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let _guard = guard;
                let result = me.order_claimed(&host, &previous).await;
                OrderOutcome { host, result }
            });
            started += 1;
        }
        Ok(started)
    }

    /// Mark `host` as being ordered by this node; `None` when it already
    /// is.
    fn begin(&self, host: &str) -> Option<InFlight> {
        lock(&self.in_flight)
            .insert(host.to_owned())
            .then(|| InFlight {
                set: self.in_flight.clone(),
                host: host.to_owned(),
            })
    }

    /// Present a stored certificate unless it was presented already.
    fn present_stored(&self, cert: &StoredCertificate) {
        let mut presented = lock(&self.presented);
        if presented.get(&cert.host) == Some(&cert.updated_at) {
            return;
        }
        match certified_key_from_pem(&cert.chain_pem, &cert.key_pem) {
            Ok(key) => {
                self.resolver.set_certificate(&cert.host, key);
                presented.insert(cert.host.clone(), cert.updated_at);
            }
            Err(e) => {
                // Remember it anyway: the same bad entry is not reported
                // every check; a new order replaces it.
                presented.insert(cert.host.clone(), cert.updated_at);
                tracing::warn!(host = %cert.host, error = %Chain(&e), "stored certificate unusable");
            }
        }
    }

    /// Claim `host` and return its order status when, after the claim,
    /// it still needs an order (`check` false: always). `None` when
    /// another node holds the claim or the name no longer needs one.
    async fn claim_if_due(
        &self,
        host: &str,
        now: i64,
        check: bool,
    ) -> Result<Option<OrderStatus>, AcmeError> {
        let host = host.to_owned();
        let holder = self.config.node_id.clone();
        let until = now.saturating_add(secs(CLAIM_LEASE));
        let renew_before = secs(self.config.renew_before);
        self.blocking(move |s| {
            let status = s.order_status(&host)?;
            if check && status.next_attempt > now {
                return Ok(None);
            }
            if !s.claim_order(&host, &holder, now, until)? {
                return Ok(None);
            }
            // Another node may have finished an order between our look and
            // the claim: read the state again under the claim.
            let status = s.order_status(&host)?;
            let cert = s.certificate(&host)?;
            let needed = cert.is_none_or(|c| c.not_after.saturating_sub(now) <= renew_before);
            if check && (status.next_attempt > now || !needed) {
                s.finish_order(&host, &holder, &status)?;
                return Ok(None);
            }
            Ok(Some(status))
        })
        .await
    }

    /// Order a certificate for `host` now, whatever its back-off and
    /// current certificate, through the same claim as the manager; the
    /// outcome is recorded in the store as the manager does.
    ///
    /// # Errors
    ///
    /// [`AcmeError::Claimed`] when another node (or this one) is ordering
    /// the name; otherwise why the order failed.
    pub async fn order_now(&self, host: &str) -> Result<StoredCertificate, AcmeError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let Some(_in_flight) = self.begin(&host) else {
            return Err(AcmeError::Claimed { host });
        };
        let Some(previous) = self.claim_if_due(&host, unix_now(), false).await? else {
            return Err(AcmeError::Claimed { host });
        };
        self.order_claimed(&host, &previous).await
    }

    /// Order `host` (claimed) within [`ORDER_TIMEOUT`] and record the
    /// outcome, releasing the claim.
    async fn order_claimed(
        &self,
        host: &str,
        previous: &OrderStatus,
    ) -> Result<StoredCertificate, AcmeError> {
        let result = match tokio::time::timeout(ORDER_TIMEOUT, self.order(host)).await {
            Ok(r) => r,
            Err(_) => Err(AcmeError::Timeout {
                host: host.to_owned(),
                after: ORDER_TIMEOUT,
            }),
        };
        let now = unix_now();
        let status = match &result {
            Ok(cert) => {
                tracing::info!(host, not_after = cert.not_after, "ACME certificate stored");
                OrderStatus {
                    failures: 0,
                    next_attempt: 0,
                    last_error: None,
                }
            }
            Err(e) => {
                let failures = previous.failures.saturating_add(1);
                let next_attempt = now.saturating_add(secs(backoff(failures)));
                let error = Chain(e).to_string();
                tracing::warn!(host, failures, next_attempt, error = %error, "ACME order failed");
                OrderStatus {
                    failures,
                    next_attempt,
                    last_error: Some(error),
                }
            }
        };
        let h = host.to_owned();
        let holder = self.config.node_id.clone();
        let recorded = self
            .blocking(move |s| s.finish_order(&h, &holder, &status))
            .await;
        match (result, recorded) {
            (Ok(cert), Ok(())) => Ok(cert),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
        }
    }

    fn acme_error(
        &self,
        host: &str,
        step: &'static str,
    ) -> impl FnOnce(instant_acme::Error) -> AcmeError {
        let host = host.to_owned();
        let directory = self.config.directory.clone();
        move |source| AcmeError::Acme {
            host,
            step,
            directory,
            source: Box::new(source),
        }
    }

    fn account_builder(&self) -> Result<AccountBuilder, AcmeError> {
        match &self.config.server_roots {
            Some(path) => Account::builder_with_root(path),
            None => Account::builder(),
        }
        .map_err(self.acme_error("", "client setup"))
    }

    /// The account of the directory: cached, from the store, or created
    /// (and stored). `fresh`: create a new one whatever is cached or
    /// stored (the server no longer knows the stored one).
    ///
    /// Two nodes that find no stored account at the same moment each
    /// create one; the last stored is used from then on (both stay valid).
    async fn account(&self, fresh: bool) -> Result<Account, AcmeError> {
        let mut cached = self.account.lock().await;
        if !fresh && let Some(account) = &*cached {
            return Ok(account.clone());
        }
        let directory = self.config.directory.clone();
        let dir = directory.clone();
        let stored = if fresh {
            None
        } else {
            self.blocking(move |s| s.acme_account(&dir)).await?
        };
        let account = match stored {
            Some(json) => {
                let credentials: AccountCredentials =
                    serde_json::from_str(&json).map_err(|source| AcmeError::Credentials {
                        directory: directory.clone(),
                        source,
                    })?;
                self.account_builder()?
                    .from_credentials(credentials)
                    .await
                    .map_err(self.acme_error("", "account"))?
            }
            None => {
                let contact: Vec<&str> = self.config.contact.iter().map(String::as_str).collect();
                let (account, credentials) = self
                    .account_builder()?
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        directory.clone(),
                        None,
                    )
                    .await
                    .map_err(self.acme_error("", "new account"))?;
                let json = serde_json::to_string(&credentials).map_err(|source| {
                    AcmeError::Credentials {
                        directory: directory.clone(),
                        source,
                    }
                })?;
                let dir = directory.clone();
                self.blocking(move |s| s.put_acme_account(&dir, &json))
                    .await?;
                tracing::info!(directory = %directory, account = account.id(), "ACME account created");
                account
            }
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    /// One order for `host`, from the new order to the stored and
    /// presented certificate.
    async fn order(&self, host: &str) -> Result<StoredCertificate, AcmeError> {
        let identifiers = [Identifier::Dns(host.to_owned())];
        let new_order = NewOrder::new(&identifiers);
        let mut order = match self.account(false).await?.new_order(&new_order).await {
            Ok(order) => order,
            Err(instant_acme::Error::Api(problem))
                if problem.r#type.as_deref() == Some(ACCOUNT_DOES_NOT_EXIST) =>
            {
                tracing::warn!(
                    directory = %self.config.directory,
                    "the ACME server does not know the stored account; creating a new one"
                );
                self.account(true)
                    .await?
                    .new_order(&new_order)
                    .await
                    .map_err(self.acme_error(host, "new order"))?
            }
            Err(e) => return Err(self.acme_error(host, "new order")(e)),
        };
        let mut cleanup = ChallengeCleanup {
            resolver: self.resolver.clone(),
            alpn: Vec::new(),
            tokens: Vec::new(),
        };
        {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(self.acme_error(host, "authorization"))?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => {
                        return Err(AcmeError::Invalid {
                            host: host.to_owned(),
                            detail: format!("authorization is {other:?}"),
                        });
                    }
                }
                let name = authz.identifier().to_string();
                let challenge = self.config.challenge;
                let mut handle = authz.challenge(challenge.acme_type()).ok_or_else(|| {
                    AcmeError::NoChallenge {
                        host: host.to_owned(),
                        challenge: challenge.as_str(),
                    }
                })?;
                let key_authorization = handle.key_authorization();
                match challenge {
                    Challenge::TlsAlpn01 => {
                        let cert =
                            alpn_challenge_cert(host, &name, key_authorization.digest().as_ref())?;
                        self.resolver.set_alpn_challenge(&name, cert);
                        cleanup.alpn.push(name);
                    }
                    Challenge::Http01 => {
                        self.resolver
                            .set_http_token(&handle.token, key_authorization.as_str());
                        cleanup.tokens.push(handle.token.clone());
                    }
                }
                handle
                    .set_ready()
                    .await
                    .map_err(self.acme_error(host, "challenge ready"))?;
            }
        }
        let status = self
            .poll(&mut order, host, |s| {
                !matches!(s, AcmeOrderStatus::Pending | AcmeOrderStatus::Processing)
            })
            .await?;
        if status != AcmeOrderStatus::Ready {
            return Err(AcmeError::Invalid {
                host: host.to_owned(),
                detail: failure_detail(&mut order, status).await,
            });
        }
        drop(cleanup);

        let keys = |source| AcmeError::Keys {
            host: host.to_owned(),
            what: "certificate request",
            source,
        };
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(keys)?;
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(keys)?;
        params.distinguished_name = DistinguishedName::new();
        let csr = params.serialize_request(&key).map_err(keys)?;
        order
            .finalize_csr(csr.der())
            .await
            .map_err(self.acme_error(host, "finalize"))?;
        let status = self
            .poll(&mut order, host, |s| {
                !matches!(s, AcmeOrderStatus::Ready | AcmeOrderStatus::Processing)
            })
            .await?;
        if status != AcmeOrderStatus::Valid {
            return Err(AcmeError::Invalid {
                host: host.to_owned(),
                detail: failure_detail(&mut order, status).await,
            });
        }
        let chain_pem = order
            .certificate()
            .await
            .map_err(self.acme_error(host, "certificate download"))?
            .ok_or_else(|| AcmeError::Leaf {
                host: host.to_owned(),
                detail: "the server sent no certificate".to_owned(),
            })?;
        let key_pem = key.serialize_pem();
        let not_after = leaf_not_after(host, &chain_pem)?;
        let certified = certified_key_from_pem(&chain_pem, &key_pem).map_err(|source| {
            AcmeError::Certificate {
                host: host.to_owned(),
                source,
            }
        })?;
        let cert = StoredCertificate {
            host: host.to_owned(),
            chain_pem,
            key_pem,
            not_after,
            updated_at: unix_now(),
        };
        let stored = cert.clone();
        self.blocking(move |s| s.put_certificate(&stored)).await?;
        self.resolver.set_certificate(host, certified);
        lock(&self.presented).insert(host.to_owned(), cert.updated_at);
        Ok(cert)
    }

    /// Refresh `order` until `done(status)`, from [`FIRST_POLL_DELAY`]
    /// doubling to at most [`MAX_POLL_DELAY`] apart (the caller bounds the
    /// total time).
    async fn poll(
        &self,
        order: &mut Order,
        host: &str,
        done: impl Fn(AcmeOrderStatus) -> bool,
    ) -> Result<AcmeOrderStatus, AcmeError> {
        let mut delay = FIRST_POLL_DELAY;
        loop {
            let status = order
                .refresh()
                .await
                .map_err(self.acme_error(host, "order status"))?
                .status;
            if done(status) {
                return Ok(status);
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(MAX_POLL_DELAY);
        }
    }
}

/// The server's reasons for a failed order: the order's problem and
/// every challenge's.
async fn failure_detail(order: &mut Order, status: AcmeOrderStatus) -> String {
    let mut details = Vec::new();
    if let Some(problem) = &order.state().error {
        details.push(problem.to_string());
    }
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = authorizations.next().await {
        let name = authz.identifier().to_string();
        for challenge in &authz.challenges {
            if let Some(problem) = &challenge.error {
                let problem = problem.to_string();
                if !details.contains(&problem) {
                    details.push(format!("{name}: {problem}"));
                }
            }
        }
    }
    if details.is_empty() {
        format!("the order is {status:?}")
    } else {
        details.join("; ")
    }
}

/// The TLS-ALPN-01 certificate for `name` (RFC 8737 section 3):
/// self-signed, `name` as its only dNSName, and the critical
/// `acmeIdentifier` extension holding `digest` (SHA-256 of the key
/// authorization).
fn alpn_challenge_cert(
    host: &str,
    name: &str,
    digest: &[u8],
) -> Result<Arc<CertifiedKey>, AcmeError> {
    let keys = |source| AcmeError::Keys {
        host: host.to_owned(),
        what: "challenge certificate",
        source,
    };
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(keys)?;
    let mut params = CertificateParams::new(vec![name.to_owned()]).map_err(keys)?;
    params.distinguished_name = DistinguishedName::new();
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(keys)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|source| {
        AcmeError::Signing {
            host: host.to_owned(),
            what: "challenge certificate",
            source,
        }
    })?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// The notAfter (Unix seconds) of the leaf of `chain_pem`, after checking
/// that the leaf names `host`.
fn leaf_not_after(host: &str, chain_pem: &str) -> Result<i64, AcmeError> {
    let chain = chain_from_pem(chain_pem).map_err(|source| AcmeError::Certificate {
        host: host.to_owned(),
        source,
    })?;
    let leaf_error = |detail: String| AcmeError::Leaf {
        host: host.to_owned(),
        detail,
    };
    let leaf = chain
        .first()
        .ok_or_else(|| leaf_error("empty chain".to_owned()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| leaf_error(format!("the leaf does not parse: {e}")))?;
    let names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        Some(d.to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !names.iter().any(|n| n == host) {
        return Err(leaf_error(format!("the leaf names {names:?}, not {host}")));
    }
    Ok(cert.validity().not_after.timestamp())
}

/// Start the ACME manager on the current tokio runtime: it orders a
/// certificate for `mta-sts.<domain>` of every hosted domain that has
/// none or whose certificate expires within `renew_before`, claims each
/// order in the store so one node at a time orders a name, answers the
/// challenges through `resolver`, stores the certificate and sets it in
/// `resolver`; failures back off. It stops when `shutdown` turns true (or
/// its sender is dropped), cancelling the orders in progress (their
/// claims lapse after [`CLAIM_LEASE`]).
pub fn spawn(
    config: AcmeConfig,
    store: Arc<dyn SiteStore>,
    resolver: Arc<CertResolver>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let manager = AcmeManager::new(config, store, resolver);
    spawn_manager(manager, shutdown)
}

/// [`spawn`] with a manager made by [`AcmeManager::new`] (so the caller
/// can also use [`AcmeManager::order_now`]).
pub fn spawn_manager(
    manager: Arc<AcmeManager>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks: JoinSet<OrderOutcome> = JoinSet::new();
        let mut tick =
            tokio::time::interval(manager.config.check_interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = async { drop(shutdown.wait_for(|s| *s).await) } => break,
                _ = tick.tick() => {
                    if let Err(e) = manager.start_due(&mut tasks, &HashSet::new()).await {
                        tracing::warn!(error = %Chain(&e), "ACME check failed");
                    }
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "ACME order task failed");
                    }
                }
            }
        }
        tasks.abort_all();
    })
}
