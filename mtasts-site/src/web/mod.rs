//! The site's web side on `mtasts serve`: the JSON API (`/api/v1/...`),
//! the dashboard pages, accounts and sessions, the TLS-RPT report
//! endpoint (`POST /v1/tlsrpt`) and `/healthz`.
//!
//! The HTTPS listener hands every request whose host name is not an
//! `mta-sts.*` name (the policy names keep the policy behaviour only) to
//! [`Web::handle`]: any other name the server holds a certificate for
//! (the site's target name, `reports.example.net`, ...). Routes:
//!
//! | route | access |
//! |---|---|
//! | `POST /v1/tlsrpt` | public ([`report_endpoint`]) |
//! | `GET /healthz` | public: `200 ok` when the snapshot is loaded and the store answered within [`HEALTH_STALE`], `503` otherwise |
//! | `GET /api/v1/...` | `Authorization: Bearer TOKEN` ([`api`]; `401` without) |
//! | `GET /login`, `POST /login`, `POST /logout` | the web login ([`auth`]) |
//! | `GET /`, `/domains/{d}`, `/reports/{id}`, `/alerts` | a session cookie (else `303` to `/login`); [`pages::render`] |
//!
//! An account sees only its own domains: a domain, report or alert of
//! another account answers `404`, as one that does not exist. Request
//! bodies are read up to a hard limit ([`WebConfig::max_report_bytes`]
//! for reports, [`MAX_FORM_BYTES`] for forms).

pub mod api;
pub mod auth;
pub mod metrics;
pub mod pages;
pub mod report_endpoint;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Body, Bytes};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::inbox::Inbox;
use crate::store::{SiteStore, StoreError};
use pages::{PageContext, PageError, PageRoute};

/// Who is asking: an account and the domains it may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account name.
    pub user: String,
    /// Admins see and change every domain.
    pub admin: bool,
    /// The domains a non-admin account sees (lower case, no final dot).
    pub domains: Vec<String>,
}

impl Account {
    /// Whether this account may see `domain`.
    #[must_use]
    pub fn can_see(&self, domain: &str) -> bool {
        self.admin || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// The id of a stored report in URLs (`/reports/{id}`,
/// `/api/v1/reports/{id}`): base64url of the organization name, `.`,
/// base64url of the report id (so it names the report without a scan).
#[must_use]
pub fn report_url_id(organization: &str, report_id: &str) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(organization),
        URL_SAFE_NO_PAD.encode(report_id)
    )
}

/// The organization and report id of a [`report_url_id`].
#[must_use]
pub fn parse_report_url_id(id: &str) -> Option<(String, String)> {
    let (o, r) = id.split_once('.')?;
    let o = String::from_utf8(URL_SAFE_NO_PAD.decode(o).ok()?).ok()?;
    let r = String::from_utf8(URL_SAFE_NO_PAD.decode(r).ok()?).ok()?;
    Some((o, r))
}

/// `/healthz` answers `503` when the store has not answered for this long.
pub const HEALTH_STALE: Duration = Duration::from_secs(30);

/// The largest form body read (`POST /login`, `/logout`).
pub const MAX_FORM_BYTES: usize = 4096;

/// The default of [`WebConfig::max_report_bytes`] (1 MiB, as RFC 8460
/// receivers commonly accept; gzip bodies expand under the readers'
/// own limits).
pub const DEFAULT_MAX_REPORT_BYTES: usize = 1024 * 1024;

/// The web side's settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The largest `POST /v1/tlsrpt` body (`413` beyond).
    pub max_report_bytes: usize,
    /// How often the per-domain metrics are recomputed from the store.
    pub metrics_refresh: Duration,
    /// How often the store is asked whether it answers (`/healthz`).
    pub health_interval: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            max_report_bytes: DEFAULT_MAX_REPORT_BYTES,
            metrics_refresh: Duration::from_secs(60),
            health_interval: Duration::from_secs(5),
        }
    }
}

/// The web side of a server.
#[derive(Debug)]
pub struct Web {
    store: Arc<dyn SiteStore>,
    inbox: Inbox,
    config: WebConfig,
    tokens: auth::TokenCache,
    limiter: auth::LoginLimiter,
    store_ok_at: AtomicI64,
    metrics: metrics::DomainMetrics,
}

/// The response type of every route.
pub type WebResponse = Response<Full<Bytes>>;

/// The current time (Unix seconds).
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A response with `body` of `content_type`.
pub(crate) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> WebResponse {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> WebResponse {
    respond(status, "text/plain; charset=utf-8", body.into())
}

fn redirect(to: &'static str) -> WebResponse {
    let mut r = text(StatusCode::SEE_OTHER, "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

fn method_not_allowed(allow: &'static str) -> WebResponse {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// Why a body was not read.
pub(crate) enum BodyError {
    /// Over the limit.
    TooLarge,
    /// The connection failed.
    Broken(String),
}

/// Read `body` up to `limit` bytes (the `Content-Length` is checked
/// first).
pub(crate) async fn read_body<B>(req: Request<B>, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(n) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && n > limit as u64
    {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Err(e) => Err(BodyError::Broken(e.to_string())),
    }
}

/// `application/x-www-form-urlencoded` pairs.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `+` as space, `%XX` decoded, invalid UTF-8 replaced.
pub(crate) fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of query parameter `name`.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_pairs(query?.as_bytes())
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A signed-in browser session.
struct SessionAccount {
    account: Account,
    session: users::Session,
}

impl Web {
    /// The web side of a server storing into `store` and receiving
    /// reports through `inbox`.
    #[must_use]
    pub fn new(store: Arc<dyn SiteStore>, inbox: Inbox, config: WebConfig) -> Arc<Self> {
        Arc::new(Self {
            store,
            inbox,
            config,
            tokens: auth::TokenCache::default(),
            limiter: auth::LoginLimiter::default(),
            store_ok_at: AtomicI64::new(now_secs()),
            metrics: metrics::DomainMetrics::default(),
        })
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn SiteStore> {
        &self.store
    }

    /// The per-domain TLS-RPT metrics (rendered on the metrics listener).
    #[must_use]
    pub fn domain_metrics(&self) -> &metrics::DomainMetrics {
        &self.metrics
    }

    /// Run `f` on the store on the blocking pool; a success also counts
    /// as the store answering (`/healthz`).
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SiteStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let r = tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreError::Io {
                path: "(web store task)".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        if r.is_ok() {
            self.store_ok_at.store(now_secs(), Ordering::Relaxed);
        }
        r
    }

    /// Start the background work: the store health ping and the
    /// per-domain metrics refresh, until `stop` turns true.
    pub fn spawn_background(self: &Arc<Self>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let web = Arc::clone(self);
        tokio::spawn(async move {
            let mut health = tokio::time::interval(web.config.health_interval);
            let mut refresh = tokio::time::interval(web.config.metrics_refresh);
            loop {
                let health_due = tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = health.tick() => true,
                    _ = refresh.tick() => false,
                };
                if health_due {
                    if let Err(e) = web.blocking(|s| s.generation()).await {
                        tracing::warn!(error = %policy_fetch::error::Chain(&e), "site store does not answer");
                    }
                } else {
                    match web.blocking(metrics::compute).await {
                        Ok(m) => web.metrics.publish(m),
                        Err(e) => {
                            tracing::warn!(error = %policy_fetch::error::Chain(&e), "per-domain metrics not refreshed")
                        }
                    }
                }
            }
        })
    }

    /// Whether `/healthz` is 200: the snapshot is loaded and the store
    /// answered within [`HEALTH_STALE`].
    #[must_use]
    pub fn healthy(&self, snapshot_loaded: bool) -> bool {
        let age = now_secs().saturating_sub(self.store_ok_at.load(Ordering::Relaxed));
        snapshot_loaded && u64::try_from(age).unwrap_or(0) <= HEALTH_STALE.as_secs()
    }

    /// Answer one request (see the module docs). `snapshot_loaded`: the
    /// policy snapshot was loaded from the store.
    pub async fn handle<B>(
        self: &Arc<Self>,
        req: Request<B>,
        peer: IpAddr,
        snapshot_loaded: bool,
    ) -> WebResponse
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        match path.as_str() {
            "/v1/tlsrpt" => {
                if method != Method::POST {
                    return method_not_allowed("POST");
                }
                report_endpoint::handle(self, req, peer).await
            }
            "/healthz" => {
                if !matches!(method, Method::GET | Method::HEAD) {
                    return method_not_allowed("GET, HEAD");
                }
                if self.healthy(snapshot_loaded) {
                    text(StatusCode::OK, "ok\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "unavailable\n")
                }
            }
            "/login" => match method {
                Method::GET | Method::HEAD => self.login_form(None, StatusCode::OK),
                Method::POST => self.login(req, peer).await,
                _ => method_not_allowed("GET, HEAD, POST"),
            },
            "/logout" => {
                if method != Method::POST {
                    return method_not_allowed("POST");
                }
                self.logout(req).await
            }
            p if p == "/api/v1" || p.starts_with("/api/v1/") => api::handle(self, &req).await,
            _ => self.page(&req).await,
        }
    }

    /// The signed-in account of a bearer token.
    pub(crate) async fn bearer(&self, token: &str) -> Result<Option<Account>, StoreError> {
        let Some((id, secret)) = auth::split_token(token) else {
            return Ok(None);
        };
        let id = id.to_owned();
        let Some(user) = self.blocking(move |s| s.users().user_by_token(&id)).await? else {
            return Ok(None);
        };
        if self.tokens.hit(token, &user.token_hash) {
            return Ok(Some(auth::account_of(&user)));
        }
        let secret = secret.to_owned();
        let phc = user.token_hash.clone();
        let ok = tokio::task::spawn_blocking(move || auth::verify_secret(&secret, &phc))
            .await
            .unwrap_or(false);
        if ok {
            self.tokens.insert(token, &user.token_hash);
            Ok(Some(auth::account_of(&user)))
        } else {
            Ok(None)
        }
    }

    async fn session<B>(&self, req: &Request<B>) -> Result<Option<SessionAccount>, StoreError> {
        let Some(id) = req
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| auth::cookie(c, auth::SESSION_COOKIE))
        else {
            return Ok(None);
        };
        let hash = auth::sha256_hex(id);
        let now = now_secs();
        self.blocking(move |s| {
            let Some(session) = s.users().session(&hash, now)? else {
                return Ok(None);
            };
            let Some(user) = s.users().user(&session.user)? else {
                return Ok(None);
            };
            Ok(Some(SessionAccount {
                account: auth::account_of(&user),
                session,
            }))
        })
        .await
    }

    fn login_form(&self, error: Option<&str>, status: StatusCode) -> WebResponse {
        let csrf = match auth::random_b64(32) {
            Ok(c) => c,
            Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "no random numbers\n"),
        };
        let html = pages::login_page(error, &csrf);
        let mut r = respond(status, "text/html; charset=utf-8", html);
        if let Ok(v) = HeaderValue::from_str(&pages::content_security_policy()) {
            r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
        if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(auth::LOGIN_COOKIE, &csrf, 3600)) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }

    async fn login<B>(&self, req: Request<B>, peer: IpAddr) -> WebResponse
    where
        B: Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if self.limiter.blocked(peer) {
            let mut r = text(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from this address; try again in a minute\n",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return r;
        }
        let cookie_csrf = req
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| auth::cookie(c, auth::LOGIN_COOKIE))
            .map(str::to_owned);
        let body = match read_body(req, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return text(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n");
            }
            Err(BodyError::Broken(e)) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        };
        let form = form_pairs(&body);
        let field = |n: &str| form.iter().find_map(|(k, v)| (k == n).then(|| v.clone()));
        let csrf_ok = match (cookie_csrf, field("csrf")) {
            (Some(c), Some(f)) => !c.is_empty() && auth::constant_eq(&c, &f),
            _ => false,
        };
        if !csrf_ok {
            return text(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong; reload the login page\n",
            );
        }
        let token = field("token").unwrap_or_default();
        let account = match self.bearer(token.trim()).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %policy_fetch::error::Chain(&e), "login: site store unavailable");
                return text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n");
            }
        };
        let Some(account) = account else {
            self.limiter.failed(peer);
            tracing::info!(%peer, "login failed");
            return self.login_form(Some("That token is not valid."), StatusCode::UNAUTHORIZED);
        };
        let (Ok(id), Ok(csrf)) = (auth::random_b64(32), auth::random_b64(32)) else {
            return text(StatusCode::SERVICE_UNAVAILABLE, "no random numbers\n");
        };
        let now = now_secs();
        let session = users::Session {
            id_hash: auth::sha256_hex(&id),
            user: account.user.clone(),
            csrf,
            expires_at: now.saturating_add(auth::SESSION_TTL),
        };
        if let Err(e) = self
            .blocking(move |s| s.users().put_session(&session, now))
            .await
        {
            tracing::warn!(error = %policy_fetch::error::Chain(&e), "login: session not stored");
            return text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n");
        }
        tracing::info!(user = %account.user, %peer, "signed in");
        let mut r = redirect("/");
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(
            auth::SESSION_COOKIE,
            &id,
            auth::SESSION_TTL,
        )) {
            h.append(header::SET_COOKIE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(auth::LOGIN_COOKIE, "", 0)) {
            h.append(header::SET_COOKIE, v);
        }
        r
    }

    async fn logout<B>(&self, req: Request<B>) -> WebResponse
    where
        B: Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let session = match self.session(&req).await {
            Ok(s) => s,
            Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n"),
        };
        let Some(s) = session else {
            return redirect("/login");
        };
        let body = match read_body(req, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return text(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n");
            }
            Err(BodyError::Broken(e)) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        };
        let csrf = form_pairs(&body)
            .into_iter()
            .find_map(|(k, v)| (k == "csrf").then_some(v));
        if !csrf.is_some_and(|c| auth::constant_eq(&c, &s.session.csrf)) {
            return text(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong\n",
            );
        }
        let hash = s.session.id_hash.clone();
        if self
            .blocking(move |st| st.users().delete_session(&hash))
            .await
            .is_err()
        {
            return text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n");
        }
        let mut r = redirect("/login");
        if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(auth::SESSION_COOKIE, "", 0)) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }

    /// The page routes.
    fn page_route<B>(req: &Request<B>) -> Option<PageRoute> {
        let path = req.uri().path();
        if path == "/" {
            return PageRoute::parse(path, req.uri().query());
        }
        if path == "/alerts" {
            return Some(PageRoute::Alerts);
        }
        if let Some(d) = path
            .strip_prefix("/domains/")
            .filter(|d| !d.is_empty() && !d.contains('/'))
        {
            let days = match query_param(req.uri().query(), "days").as_deref() {
                Some("30") => 30,
                Some("90") => 90,
                _ => 7,
            };
            return Some(PageRoute::Domain {
                domain: mta_sts_core::domain::fold(&percent_decode(d.as_bytes())).into_owned(),
                days,
            });
        }
        if let Some(id) = path
            .strip_prefix("/reports/")
            .filter(|d| !d.is_empty() && !d.contains('/'))
        {
            return Some(PageRoute::Report { id: id.to_owned() });
        }
        None
    }

    async fn page<B>(self: &Arc<Self>, req: &Request<B>) -> WebResponse {
        let Some(route) = Self::page_route(req) else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return method_not_allowed("GET, HEAD");
        }
        let s = match self.session(req).await {
            Ok(Some(s)) => s,
            Ok(None) => return redirect("/login"),
            Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n"),
        };
        // Visibility is checked here too, whatever the page does.
        match self.visible(&s.account, &route).await {
            Ok(true) => {}
            Ok(false) => return text(StatusCode::NOT_FOUND, "not found\n"),
            Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n"),
        }
        let store = Arc::clone(&self.store);
        let rendered = tokio::task::spawn_blocking(move || {
            let ctx = PageContext {
                store: &store,
                account: &s.account,
                csrf_token: &s.session.csrf,
                now: now_secs(),
            };
            pages::render(&route, &ctx)
        })
        .await;
        match rendered {
            Ok(Ok(html)) => {
                let mut r = respond(StatusCode::OK, "text/html; charset=utf-8", html);
                if let Ok(v) = HeaderValue::from_str(&pages::content_security_policy()) {
                    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
                }
                r
            }
            Ok(Err(PageError::NotFound)) => text(StatusCode::NOT_FOUND, "not found\n"),
            Ok(Err(e)) => {
                tracing::warn!(error = %policy_fetch::error::Chain(&e), "page not rendered");
                text(StatusCode::SERVICE_UNAVAILABLE, "site store unavailable\n")
            }
            Err(e) => {
                tracing::warn!(error = %e, "page task failed");
                text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
            }
        }
    }

    /// Whether `account` may see what `route` shows (a hosted domain of
    /// its own, a report of one of its domains).
    async fn visible(&self, account: &Account, route: &PageRoute) -> Result<bool, StoreError> {
        match route {
            PageRoute::Overview | PageRoute::OverviewPage { .. } | PageRoute::Alerts => Ok(true),
            PageRoute::Domain { domain, .. } => {
                if !account.can_see(domain) {
                    return Ok(false);
                }
                let d = domain.clone();
                self.blocking(move |s| Ok(s.domain(&d)?.is_some())).await
            }
            PageRoute::Report { id } => Ok(self
                .report_domains(id)
                .await?
                .is_some_and(|ds| ds.iter().any(|d| account.can_see(d)))),
        }
    }

    /// The policy domains of the stored report `id` (`None`: no such report).
    pub(crate) async fn report_domains(&self, id: &str) -> Result<Option<Vec<String>>, StoreError> {
        let Some((org, rid)) = parse_report_url_id(id) else {
            return Ok(None);
        };
        let stored = self
            .blocking(move |s| s.inbox().stored_report(&org, &rid))
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let report = crate::inbox::summary::parse_stored(&stored.json)?;
        Ok(Some(
            report
                .policies
                .iter()
                .filter_map(|p| p.policy.policy_domain.as_deref())
                .map(|d| mta_sts_core::domain::fold(d).into_owned())
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_round_trip_and_forms_decode() {
        let id = report_url_id("Example Org", "2026-12-01T00:00:00Z_x/y");
        assert!(!id.contains('/'));
        assert_eq!(
            parse_report_url_id(&id),
            Some((
                "Example Org".to_owned(),
                "2026-12-01T00:00:00Z_x/y".to_owned()
            ))
        );
        assert_eq!(parse_report_url_id("x"), None);
        assert_eq!(
            form_pairs(b"token=a%2Eb+c&csrf=%zz"),
            [
                ("token".to_owned(), "a.b c".to_owned()),
                ("csrf".to_owned(), "%zz".to_owned())
            ]
        );
    }
}
