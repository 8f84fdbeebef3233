//! Sans-IO policy discovery and cache decisions (RFC 8461 sections 3.3, 5.1
//! and 10.2; decision table D1-D12 in the project's specification digest).
//!
//! The caller performs the IO that a [`Discovery`] asks for and feeds the
//! results back; time is always passed in. The outcome says which policy
//! applies to the delivery, what to write to the cache, and what to report
//! through TLS-RPT.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use mta_sts_core::discovery::{Discovery, HttpResponse, Rule, Step, TxtAnswer};
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut d = Discovery::new("example.com", None, now);
//! let outcome = loop {
//!     match d.next_step() {
//!         Step::LookupTxt { name } => {
//!             assert_eq!(name, "_mta-sts.example.com");
//!             d.on_txt(TxtAnswer::Records(vec![b"v=STSv1; id=20240101".to_vec()])).unwrap();
//!         }
//!         Step::FetchPolicy { url, .. } => {
//!             assert_eq!(url, "https://mta-sts.example.com/.well-known/mta-sts.txt");
//!             let body = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
//!             d.on_policy(Ok(HttpResponse { status: 200, content_type: Some("text/plain".into()), body: body.to_vec() })).unwrap();
//!         }
//!         Step::Done(outcome) => break outcome,
//!     }
//! };
//! assert_eq!(outcome.rule, Rule::D4FetchedNew);
//! assert!(outcome.policy().unwrap().matches_mx("mx.example.com"));
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::SelectError;
use crate::policy::{Mode, Policy, PolicyWarning, policy_host, policy_url};
use crate::record::{StsRecord, txt_name};
use crate::result::ResultType;

/// Do not refetch a policy id within this time after a failed fetch
/// (RFC 8461 3.3; STS-FETCH-09).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

/// How often a cached policy is refreshed in the background (RFC 8461 3.3
/// suggests daily; STS-CACHE-04).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(86_400);

/// Seconds since the Unix epoch (0 for earlier times).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Times in cache entries are clamped to this many seconds after the epoch
/// (about 34,800 years), so arithmetic on untrusted stored values can never
/// overflow `SystemTime`.
const MAX_SECS: u64 = 1 << 40;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.min(MAX_SECS))
}

/// A policy as cached: with the id it was fetched for and the fetch time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedPolicy {
    /// The TXT record id the policy was fetched for.
    pub id: String,
    /// The policy.
    pub policy: Policy<'static>,
    /// When it was last fetched successfully (Unix seconds).
    pub fetched_at: u64,
}

impl CachedPolicy {
    /// When the policy expires: `fetched_at + max_age`.
    pub fn expires_at(&self) -> SystemTime {
        at(self
            .fetched_at
            .saturating_add(u64::from(self.policy.max_age())))
    }

    /// Whether the policy may still be applied: `now < fetched_at +
    /// max_age` (DEC-08; STS-CACHE-01).
    pub fn is_valid(&self, now: SystemTime) -> bool {
        now < self.expires_at()
    }
}

/// A failed fetch, remembered for the 5-minute retry limit (D10).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedFetch {
    /// The id the fetch was for.
    pub id: String,
    /// When it failed (Unix seconds).
    pub at: u64,
    /// The TLS-RPT classification.
    pub result_type: ResultType,
    /// Why it failed.
    pub reason: String,
}

/// Everything cached for one Policy Domain. Serializes with serde so a
/// store can persist it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CacheEntry {
    /// The Policy Domain.
    pub domain: String,
    /// The last policy fetched successfully, if any.
    pub policy: Option<CachedPolicy>,
    /// The last failed fetch, if more recent than the policy.
    pub last_failure: Option<FailedFetch>,
    /// When the entry was last used for a delivery (Unix seconds); the
    /// store updates it and evicts entries unused for long.
    pub last_used: u64,
}

impl CacheEntry {
    /// The cached policy if it is still valid at `now`.
    pub fn valid_policy(&self, now: SystemTime) -> Option<&CachedPolicy> {
        self.policy.as_ref().filter(|p| p.is_valid(now))
    }

    /// Whether a fetch for `id` failed less than 5 minutes before `now`
    /// (STS-FETCH-09).
    pub fn retry_blocked(&self, id: &str, now: SystemTime) -> bool {
        self.last_failure.as_ref().is_some_and(|f| {
            f.id == id && now < at(f.at).checked_add(RETRY_AFTER_FAILURE).unwrap_or(now)
        })
    }

    /// When the cached policy should be refreshed in the background
    /// (STS-CACHE-04): a day after the last fetch, or earlier so that the
    /// refresh happens `lead` before expiry, where `lead` is one day or half
    /// of `max_age`, whichever is shorter; plus `jitter` (capped at half of
    /// `lead`, so the refresh always happens before expiry). `None` without
    /// a policy.
    pub fn next_refresh(&self, jitter: Duration) -> Option<SystemTime> {
        let p = self.policy.as_ref()?;
        let max_age = Duration::from_secs(u64::from(p.policy.max_age()));
        let lead = REFRESH_INTERVAL.min(max_age / 2);
        let fetched = at(p.fetched_at);
        let base = (fetched + REFRESH_INTERVAL).min(p.expires_at() - lead);
        Some(base + jitter.min(lead / 2))
    }

    /// Whether a background refresh is due at `now`.
    pub fn refresh_due(&self, now: SystemTime, jitter: Duration) -> bool {
        self.next_refresh(jitter).is_some_and(|t| now >= t)
    }

    /// Whether the entry may be evicted: not used for a delivery during
    /// `unused_for`.
    pub fn should_evict(&self, now: SystemTime, unused_for: Duration) -> bool {
        now >= at(self.last_used) + unused_for
    }
}

/// The answer to the `_mta-sts` TXT query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The TXT RRs, each with its character-strings joined.
    Records(Vec<Vec<u8>>),
    /// NXDOMAIN or no TXT data: no record.
    NoRecord,
    /// SERVFAIL, timeout or another temporary failure.
    TempFail(String),
}

/// An HTTP response to the policy GET (redirects must not have been
/// followed; STS-FETCH-06).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body (the transport should already stop reading past
    /// [`crate::policy::MAX_POLICY_BODY`] + 1 bytes).
    pub body: Vec<u8>,
}

/// A fetch that produced no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// `sts-webpki-invalid` for certificate problems of the policy host,
    /// `sts-policy-fetch-error` otherwise.
    pub result_type: ResultType,
    /// What happened.
    pub reason: String,
}

/// Reader options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Use the strict policy reader and require a `Content-Type` header
    /// (DEC-01, DEC-07); the default is lenient. In both modes the media
    /// type, when present, must be `text/plain` (`text/html` and every
    /// other type are refused); the lenient mode only accepts a missing
    /// header, with a note. See [`Discovery::check_response`].
    pub strict: bool,
}

/// Which row of the decision table applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Rule {
    /// D1: TXT id equals the cached id; cached policy applies, no fetch.
    D1CachedCurrent,
    /// D2: new id, fetched a valid policy; it replaces the cached one.
    D2FetchedReplaced,
    /// D3: new id, fetch failed; the cached policy still applies.
    D3FetchFailedUseCached,
    /// D4: no valid cache, fetched a valid policy.
    D4FetchedNew,
    /// D5: no valid cache, fetch failed; no policy applies.
    D5FetchFailedNoPolicy,
    /// D6: no usable TXT record; the cached policy still applies.
    D6NoRecordUseCached,
    /// D7: no usable TXT record and no valid cache; no policy.
    D7NoRecordNoPolicy,
    /// D8: DNS temporary failure; the cached policy applies.
    D8TempFailUseCached,
    /// D9: DNS temporary failure, no valid cache; no policy (DEC-09).
    D9TempFailNoPolicy,
    /// D10: a fetch for this id failed less than 5 minutes ago; no new
    /// attempt.
    D10RetryLimited,
    /// D11: background refresh fetched a valid policy.
    D11RefreshOk,
    /// D12: background refresh failed; the cache is unchanged.
    D12RefreshFailed,
}

/// What to do with the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheAction {
    /// Leave the entry as it is.
    Keep,
    /// Write this entry (a new policy, or a failure record for the retry
    /// limit).
    Store(Box<CacheEntry>),
}

/// Where the applied policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Source {
    /// The cache.
    Cached,
    /// The fetch just made.
    Fetched,
}

/// A policy failure to report through TLS-RPT (STS-RPT-01, STS-RPT-02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFailure {
    /// `sts-policy-fetch-error`, `sts-policy-invalid` or `sts-webpki-invalid`.
    pub result_type: ResultType,
    /// The `failure-reason-code` text.
    pub reason: String,
}

/// Why the TXT lookup gave no usable record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtProblem {
    /// No candidate, several, or an invalid one.
    Select(SelectError),
    /// NXDOMAIN / no data.
    NoRecord,
    /// Temporary DNS failure.
    TempFail(String),
}

/// The result of a discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The decision-table row.
    pub rule: Rule,
    /// The policy to apply (with its id and where it came from), or none.
    /// A policy in mode `none` is returned as such; enforcement treats it
    /// like no policy (STS-APPLY-04).
    pub applied: Option<(CachedPolicy, Source)>,
    /// What to write to the cache.
    pub cache: CacheAction,
    /// A failure to report through TLS-RPT, if any.
    pub failure: Option<PolicyFailure>,
    /// Messages for the administrator (failed refreshes of a policy that is
    /// not `none`, a vanished TXT record, lenient-reader warnings), each
    /// with its code.
    pub warnings: Vec<DiscoveryWarning>,
    /// Why the TXT lookup gave nothing usable, if it did.
    pub txt_problem: Option<TxtProblem>,
}

crate::code_enum! {
    /// What a [`DiscoveryWarning`] is about.
    pub enum DiscoveryWarningCode {
        /// No usable `_mta-sts` record, but a cached policy is still valid
        /// and applied (a DNS change, or an attacker blocking the record).
        RecordGoneCachedApplied => "record-gone-cached-applied",
        /// A temporary DNS failure for the `_mta-sts` record.
        TxtTemporaryFailure => "txt-temporary-failure",
        /// The lenient policy reader accepted a deviation.
        PolicyLenient => "policy-lenient",
        /// The policy response had no `Content-Type`.
        ContentTypeMissing => "content-type-missing",
        /// A refresh failed; the cached policy stays until it expires.
        RefreshFailed => "refresh-failed",
        /// The IO layer could not write or remove the cache entry.
        StoreFailed => "store-failed",
        /// The IO layer's discovery task ended without an outcome.
        DiscoveryAborted => "discovery-aborted",
        /// The IO layer's cache reached its size limit and evicted the
        /// entries used least recently.
        CacheFull => "cache-full",
    }
}

/// A message for the administrator from a discovery: its code and what
/// happened (naming the domain). Displays as the message; compares equal
/// to a `&str` holding the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DiscoveryWarning {
    /// What kind of warning.
    pub code: DiscoveryWarningCode,
    /// What happened.
    pub message: String,
}

impl DiscoveryWarning {
    /// A warning of `code` saying `message`.
    pub fn new(code: DiscoveryWarningCode, message: String) -> Self {
        Self { code, message }
    }
}

impl std::fmt::Display for DiscoveryWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl PartialEq<&str> for DiscoveryWarning {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

impl Outcome {
    /// The policy to apply, if any (including mode `none`).
    pub fn policy(&self) -> Option<&Policy<'static>> {
        self.applied.as_ref().map(|(p, _)| &p.policy)
    }

    /// The mode in effect: the applied policy's mode, or `None` for no policy.
    pub fn mode(&self) -> Option<Mode> {
        self.policy().map(Policy::mode)
    }
}

/// The next thing a [`Discovery`] needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Look up the TXT RRs of `name` and call [`Discovery::on_txt`].
    LookupTxt {
        /// `_mta-sts.<domain>`.
        name: String,
    },
    /// GET `url` over HTTPS (SNI and certificate name `host`, no redirects,
    /// no HTTP caching) and call [`Discovery::on_policy`].
    FetchPolicy {
        /// `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
        url: String,
        /// `mta-sts.<domain>`.
        host: String,
        /// The id being fetched.
        id: String,
    },
    /// Finished.
    Done(Box<Outcome>),
}

#[derive(Debug, Clone)]
enum State {
    NeedTxt,
    NeedPolicy {
        id: String,
        txt_problem: Option<TxtProblem>,
    },
    Done(Box<Outcome>),
}

/// An input arrived that the discovery did not ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("discovery input out of order: the current step does not expect it")]
pub struct UnexpectedInput;

/// One policy discovery for one Policy Domain (see the module docs).
#[derive(Debug, Clone)]
pub struct Discovery {
    domain: String,
    cached: Option<CacheEntry>,
    now: SystemTime,
    refresh: bool,
    options: Options,
    state: State,
}

impl Discovery {
    /// Discovery for a delivery: look up the TXT record, then decide.
    pub fn new(domain: &str, cached: Option<&CacheEntry>, now: SystemTime) -> Self {
        Self::with_options(domain, cached, now, Options::default())
    }

    /// [`Discovery::new`] with reader options.
    pub fn with_options(
        domain: &str,
        cached: Option<&CacheEntry>,
        now: SystemTime,
        options: Options,
    ) -> Self {
        let domain = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        Self {
            domain,
            cached: cached.cloned(),
            now,
            refresh: false,
            options,
            state: State::NeedTxt,
        }
    }

    /// Background refresh (D11/D12): look up the TXT record, then fetch
    /// the policy whatever the TXT says (the TXT id if valid, else the
    /// cached id), and restart the `max_age` clock on success
    /// (STS-CACHE-05).
    pub fn refresh(domain: &str, cached: &CacheEntry, now: SystemTime, options: Options) -> Self {
        let mut d = Self::with_options(domain, Some(cached), now, options);
        d.refresh = cached.policy.is_some();
        d
    }

    /// The next step.
    pub fn next_step(&self) -> Step {
        match &self.state {
            State::NeedTxt => Step::LookupTxt {
                name: txt_name(&self.domain),
            },
            State::NeedPolicy { id, .. } => Step::FetchPolicy {
                url: policy_url(&self.domain),
                host: policy_host(&self.domain),
                id: id.clone(),
            },
            State::Done(o) => Step::Done(o.clone()),
        }
    }

    fn valid_cached(&self) -> Option<&CachedPolicy> {
        self.cached.as_ref().and_then(|c| c.valid_policy(self.now))
    }

    fn cached_mode_is_none(&self) -> bool {
        self.valid_cached()
            .is_some_and(|p| p.policy.mode() == Mode::None)
    }

    fn finish(&mut self, o: Outcome) {
        self.state = State::Done(Box::new(o));
    }

    fn outcome(
        &self,
        rule: Rule,
        applied: Option<(CachedPolicy, Source)>,
        cache: CacheAction,
    ) -> Outcome {
        Outcome {
            rule,
            applied,
            cache,
            failure: None,
            warnings: Vec::new(),
            txt_problem: None,
        }
    }

    /// Feed the TXT answer.
    pub fn on_txt(&mut self, answer: TxtAnswer) -> Result<(), UnexpectedInput> {
        if !matches!(self.state, State::NeedTxt) {
            return Err(UnexpectedInput);
        }
        let cached = self.valid_cached().cloned();
        let problem = match &answer {
            TxtAnswer::TempFail(r) => Some(TxtProblem::TempFail(r.clone())),
            TxtAnswer::NoRecord => Some(TxtProblem::NoRecord),
            TxtAnswer::Records(rrs) => match StsRecord::select(rrs) {
                Ok(r) => {
                    let id = r.id().to_owned();
                    return {
                        self.on_valid_record(id, cached);
                        Ok(())
                    };
                }
                Err(e) => Some(TxtProblem::Select(e)),
            },
        };
        // No usable record.
        if let Some(id) = self
            .cached
            .as_ref()
            .and_then(|c| c.policy.as_ref())
            .map(|p| p.id.clone())
            .filter(|_| self.refresh)
        {
            self.state = State::NeedPolicy {
                id,
                txt_problem: problem,
            };
            return Ok(());
        }
        let temp = matches!(answer, TxtAnswer::TempFail(_));
        let mut o = match (cached, temp) {
            (Some(c), true) => self.outcome(
                Rule::D8TempFailUseCached,
                Some((c, Source::Cached)),
                CacheAction::Keep,
            ),
            (None, true) => self.outcome(Rule::D9TempFailNoPolicy, None, CacheAction::Keep),
            (Some(c), false) => {
                let mut o = self.outcome(
                    Rule::D6NoRecordUseCached,
                    Some((c.clone(), Source::Cached)),
                    CacheAction::Keep,
                );
                if c.policy.mode() != Mode::None {
                    o.warnings.push(DiscoveryWarning::new(
                        DiscoveryWarningCode::RecordGoneCachedApplied,
                        format!(
                            "{}: no usable _mta-sts record, but a cached {} policy (id {}) is still valid and applied; if this persists, check the DNS record (or an attacker may be blocking it)",
                            self.domain,
                            c.policy.mode(),
                            c.id
                        ),
                    ));
                }
                o
            }
            (None, false) => self.outcome(Rule::D7NoRecordNoPolicy, None, CacheAction::Keep),
        };
        if let Some(TxtProblem::TempFail(r)) = &problem {
            o.warnings.push(DiscoveryWarning::new(
                DiscoveryWarningCode::TxtTemporaryFailure,
                format!(
                    "{}: temporary DNS failure for the _mta-sts record: {r}",
                    self.domain
                ),
            ));
        }
        o.txt_problem = problem;
        self.finish(o);
        Ok(())
    }

    fn on_valid_record(&mut self, id: String, cached: Option<CachedPolicy>) {
        if let Some(c) = cached.as_ref().filter(|c| c.id == id && !self.refresh) {
            {
                let o = self.outcome(
                    Rule::D1CachedCurrent,
                    Some((c.clone(), Source::Cached)),
                    CacheAction::Keep,
                );
                self.finish(o);
                return;
            }
        }
        if self
            .cached
            .as_ref()
            .is_some_and(|c| c.retry_blocked(&id, self.now))
        {
            let mut o = self.outcome(
                Rule::D10RetryLimited,
                cached.clone().map(|c| (c, Source::Cached)),
                CacheAction::Keep,
            );
            if !self.cached_mode_is_none() && !self.refresh {
                let last = self.cached.as_ref().and_then(|c| c.last_failure.as_ref());
                o.failure = Some(PolicyFailure {
                    result_type: last
                        .map_or(ResultType::StsPolicyFetchError, |f| f.result_type.clone()),
                    reason: format!(
                        "back-off after recent fetch error: {}",
                        last.map_or("", |f| f.reason.as_str())
                    ),
                });
            }
            self.finish(o);
            return;
        }
        self.state = State::NeedPolicy {
            id,
            txt_problem: None,
        };
    }

    /// Check an HTTP response and parse the policy in it (STS-FETCH-05,
    /// STS-FETCH-08, STS-FETCH-10, DEC-07, DEC-27).
    ///
    /// - Only status 200 is accepted (`sts-policy-fetch-error` otherwise).
    /// - `Content-Type`: the media type must be `text/plain` (any case,
    ///   parameters ignored) in both modes; any other type, `text/html`
    ///   included, is `sts-policy-invalid`. A missing header is an error in
    ///   strict mode and accepted with a note (the third value) in lenient
    ///   mode, because some servers omit it (DEC-07).
    /// - The body is decoded as UTF-8 and parsed with the strict or the
    ///   lenient reader; the second value holds the lenient reader's
    ///   warnings.
    ///
    /// ```
    /// use mta_sts_core::ResultType;
    /// use mta_sts_core::discovery::{Discovery, HttpResponse, Options};
    ///
    /// let body = b"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n".to_vec();
    /// let resp = |ct: Option<&str>| HttpResponse { status: 200, content_type: ct.map(str::to_owned), body: body.clone() };
    /// let (lenient, strict) = (Options::default(), Options { strict: true });
    /// for options in [lenient, strict] {
    ///     assert!(Discovery::check_response(&resp(Some("text/plain; charset=utf-8")), options).is_ok());
    ///     let e = Discovery::check_response(&resp(Some("text/html")), options).unwrap_err();
    ///     assert_eq!(e.result_type, ResultType::StsPolicyInvalid);
    /// }
    /// let (_, _, notes) = Discovery::check_response(&resp(None), lenient)?;
    /// assert_eq!(notes, ["no Content-Type header (text/plain expected); accepted"]);
    /// assert!(Discovery::check_response(&resp(None), strict).is_err());
    /// # Ok::<(), mta_sts_core::discovery::PolicyFailure>(())
    /// ```
    pub fn check_response(
        resp: &HttpResponse,
        options: Options,
    ) -> Result<(Policy<'static>, Vec<PolicyWarning>, Vec<String>), PolicyFailure> {
        let invalid = |reason: String| PolicyFailure {
            result_type: ResultType::StsPolicyInvalid,
            reason,
        };
        if resp.status != 200 {
            return Err(PolicyFailure {
                result_type: ResultType::StsPolicyFetchError,
                reason: format!("HTTP status {} (only 200 is accepted)", resp.status),
            });
        }
        let mut notes = Vec::new();
        match resp.content_type.as_deref() {
            None if options.strict => {
                return Err(invalid("no Content-Type (text/plain is required)".into()));
            }
            None => notes.push("no Content-Type header (text/plain expected); accepted".to_owned()),
            Some(ct) => {
                let media = ct.split(';').next().unwrap_or("").trim();
                if !media.eq_ignore_ascii_case("text/plain") {
                    return Err(invalid(format!(
                        "Content-Type `{ct}` (text/plain is required)"
                    )));
                }
            }
        }
        let text = Policy::body_text(&resp.body).map_err(|e| invalid(e.to_string()))?;
        if options.strict {
            Policy::parse(text)
                .map(|p| (p.into_owned(), Vec::new(), notes))
                .map_err(|e| invalid(e.to_string()))
        } else {
            Policy::parse_lenient(text)
                .map(|l| (l.value.into_owned(), l.warnings, notes))
                .map_err(|e| invalid(e.to_string()))
        }
    }

    /// Feed the result of the policy fetch.
    pub fn on_policy(
        &mut self,
        result: Result<HttpResponse, FetchFailure>,
    ) -> Result<(), UnexpectedInput> {
        let State::NeedPolicy { id, txt_problem } = &self.state else {
            return Err(UnexpectedInput);
        };
        let (id, txt_problem) = (id.clone(), txt_problem.clone());
        let cached = self.valid_cached().cloned();
        let checked = match result {
            Ok(resp) => Self::check_response(&resp, self.options),
            Err(f) => Err(PolicyFailure {
                result_type: f.result_type,
                reason: f.reason,
            }),
        };
        let mut entry = self.cached.clone().unwrap_or_default();
        entry.domain.clone_from(&self.domain);
        let mut o = match checked {
            Ok((policy, warnings, notes)) => {
                let new = CachedPolicy {
                    id,
                    policy,
                    fetched_at: unix_secs(self.now),
                };
                entry.policy = Some(new.clone());
                entry.last_failure = None;
                let rule = if self.refresh {
                    Rule::D11RefreshOk
                } else if cached.is_some() {
                    Rule::D2FetchedReplaced
                } else {
                    Rule::D4FetchedNew
                };
                let mut o = self.outcome(
                    rule,
                    Some((new, Source::Fetched)),
                    CacheAction::Store(Box::new(entry)),
                );
                o.warnings.extend(warnings.iter().map(|w| {
                    DiscoveryWarning::new(
                        DiscoveryWarningCode::PolicyLenient,
                        format!("{}: policy: {w}", self.domain),
                    )
                }));
                o.warnings.extend(notes.into_iter().map(|n| {
                    DiscoveryWarning::new(
                        DiscoveryWarningCode::ContentTypeMissing,
                        format!("{}: policy fetch: {n}", self.domain),
                    )
                }));
                o
            }
            Err(failure) => {
                entry.last_failure = Some(FailedFetch {
                    id,
                    at: unix_secs(self.now),
                    result_type: failure.result_type.clone(),
                    reason: failure.reason.clone(),
                });
                let none_mode = self.cached_mode_is_none();
                let rule = if self.refresh {
                    Rule::D12RefreshFailed
                } else if cached.is_some() {
                    Rule::D3FetchFailedUseCached
                } else {
                    // An expired policy is of no use any more (D5).
                    entry.policy = None;
                    Rule::D5FetchFailedNoPolicy
                };
                let mut o = self.outcome(
                    rule,
                    cached.map(|c| (c, Source::Cached)),
                    CacheAction::Store(Box::new(entry)),
                );
                if !none_mode {
                    if rule != Rule::D5FetchFailedNoPolicy {
                        o.warnings.push(DiscoveryWarning::new(
                            DiscoveryWarningCode::RefreshFailed,
                            format!(
                                "{}: policy refresh failed ({}: {}); the cached policy stays in force until it expires",
                                self.domain, failure.result_type, failure.reason
                            ),
                        ));
                    }
                    if !self.refresh {
                        o.failure = Some(failure);
                    }
                }
                o
            }
        };
        o.txt_problem = txt_problem;
        self.finish(o);
        Ok(())
    }
}
