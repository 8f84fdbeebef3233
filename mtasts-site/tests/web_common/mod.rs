//! Shared by `web_api.rs` and `web_access.rs`: a real `serve::Server`
//! over a SqliteStore holding hosted domains, reports of the
//! repository's corpus ingested through `Inbox::ingest`, and accounts;
//! an HTTPS client trusting the test CA; a JSON-Schema validator for the
//! subset `openapi.json` uses.
#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use mta_sts_core::Mode;
use mtasts_site::alerts::Alerter;
use mtasts_site::domains::{self, AddOptions};
use mtasts_site::inbox::{Inbox, InboxOptions, Source};
use mtasts_site::serve::{ServeConfig, Server};
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use mtasts_site::web::auth;
use mtasts_site::web::users::User;
use rustls::pki_types::ServerName;
use serde_json::Value;
pub use test_support::TempDir;
use test_support::TestCa;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The web host name (not an `mta-sts.*` name).
pub const WEB_HOST: &str = "reports.example.net";

/// The JSON corpus files ingested, relative to the repository root.
pub const FILES: [&str; 5] = [
    "testdata/reports/mail-auth/rpt01.json",
    "examples/data/reports/mail-auth/rpt02.json",
    "examples/data/reports/parsedmarc/mail.ru.json",
    "examples/data/reports/dmarc-report-viewer/microsoft.json",
    "examples/data/reports/dmarc-report-viewer/no-contact.json",
];

/// The hosted domains: those of the corpus files.
pub const DOMAINS: [&str; 3] = ["company-y.example", "example.com", "random.net"];

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Tokens of the accounts of a [`Site`].
pub struct Tokens {
    /// Sees everything.
    pub admin: String,
    /// Sees company-y.example and example.com.
    pub alice: String,
    /// Sees random.net.
    pub bob: String,
}

/// A served site.
pub struct Site {
    pub dir: TempDir,
    pub ca: TestCa,
    pub store: Arc<dyn SiteStore>,
    pub server: Server,
    pub tokens: Tokens,
}

/// Add an account; its token.
pub fn add_user(store: &dyn SiteStore, name: &str, admin: bool, domains: &[&str]) -> String {
    let t = auth::new_token().unwrap();
    store
        .users()
        .add_user(&User {
            name: name.to_owned(),
            admin,
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            token_id: t.id,
            token_hash: t.hash,
            created_at: now(),
        })
        .unwrap();
    t.token
}

impl Site {
    pub async fn start(tag: &str, configure: impl FnOnce(&mut ServeConfig)) -> Self {
        let dir = TempDir::new(&format!("mtasts-web-{tag}"));
        let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0.join("state")).unwrap());
        let ca = TestCa::new();
        let live = dir.0.join("live");
        for host in [WEB_HOST.to_owned(), "mta-sts.example.com".to_owned()] {
            let leaf = ca.issue(&[&host]);
            let d = live.join(&host);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("privkey.pem"), &leaf.key_pem).unwrap();
            std::fs::write(
                d.join("fullchain.pem"),
                format!("{}{}", leaf.cert_pem, ca.ca_pem()),
            )
            .unwrap();
        }
        // Hosted since 2015, so the corpus reports count for readiness.
        let since = 1_420_070_400; // 2015-01-01
        for d in DOMAINS {
            let opts = AddOptions {
                mx: vec![format!("*.mail.{d}"), format!("mx.{d}")],
                mode: Some(Mode::Testing),
                ..AddOptions::default()
            };
            domains::add(&*store, d, &opts, since).unwrap();
        }
        store
            .set_setting(domains::SETTING_TARGET, Some("sts.host.example.net"))
            .unwrap();
        let inbox = Inbox::new(
            Arc::clone(&store),
            InboxOptions {
                alerter: Some(Arc::new(Alerter::store_only(Arc::clone(&store)))),
                retain_days: None,
                ..InboxOptions::default()
            },
        );
        for f in FILES {
            let bytes = std::fs::read(root().join(f)).unwrap();
            inbox
                .ingest(&bytes, &Source::File(PathBuf::from(f)))
                .await
                .unwrap();
        }
        let tokens = Tokens {
            admin: add_user(&*store, "admin", true, &[]),
            alice: add_user(
                &*store,
                "alice",
                false,
                &["company-y.example", "example.com"],
            ),
            bob: add_user(&*store, "bob", false, &["random.net"]),
        };
        let mut config = ServeConfig::new((Ipv4Addr::LOCALHOST, 0).into());
        config.cert_dir = Some(live);
        config.metrics = Some((Ipv4Addr::LOCALHOST, 0).into());
        config.web.metrics_refresh = Duration::from_millis(200);
        configure(&mut config);
        let server = Server::start(config, Arc::clone(&store)).await.unwrap();
        Self {
            dir,
            ca,
            store,
            server,
            tokens,
        }
    }

    /// A new HTTP/1.1 connection to `sni`.
    pub async fn conn(&self, sni: &str) -> http1::SendRequest<Full<Bytes>> {
        let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(self.ca.root_store())
        .with_no_client_auth();
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = TcpStream::connect(self.server.https_addr()).await.unwrap();
        let tls = TlsConnector::from(Arc::new(c))
            .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
            .await
            .unwrap();
        let (sender, conn) = http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(conn);
        sender
    }

    /// One request to the web host.
    pub async fn request(&self, req: Req<'_>) -> Answer {
        self.request_on(WEB_HOST, req).await
    }

    /// One request to `host` (SNI and Host).
    pub async fn request_on(&self, host: &str, req: Req<'_>) -> Answer {
        let mut s = self.conn(host).await;
        let mut b = Request::builder()
            .method(req.method)
            .uri(req.path)
            .header("host", host);
        if let Some(t) = req.bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(c) = req.cookie {
            b = b.header("cookie", c);
        }
        if let Some(ct) = req.content_type {
            b = b.header("content-type", ct);
        }
        let r = b.body(Full::new(Bytes::from(req.body))).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(20), s.send_request(r))
            .await
            .unwrap()
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// GET `path` with `token`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request(Req {
            bearer: token,
            ..Req::get(path)
        })
        .await
    }

    /// GET the metrics listener's `/metrics`.
    pub async fn scrape(&self) -> String {
        let tcp = TcpStream::connect(self.server.metrics_addr().unwrap())
            .await
            .unwrap();
        let (mut s, conn) = http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        let r = Request::builder()
            .uri("/metrics")
            .header("host", "x")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = s.send_request(r).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }
}

/// A request.
pub struct Req<'a> {
    pub method: Method,
    pub path: &'a str,
    pub bearer: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: Vec<u8>,
}

impl<'a> Req<'a> {
    pub fn get(path: &'a str) -> Self {
        Self {
            method: Method::GET,
            path,
            bearer: None,
            cookie: None,
            content_type: None,
            body: Vec::new(),
        }
    }

    pub fn post(path: &'a str, content_type: &'a str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: Method::POST,
            content_type: Some(content_type),
            body: body.into(),
            ..Self::get(path)
        }
    }
}

/// A response.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// The API routes the router answers (`api::ROUTES`) with the API prefix.
pub fn openapi() -> Value {
    serde_json::from_slice(&std::fs::read(root().join("mtasts-site/openapi.json")).unwrap())
        .unwrap()
}

/// Validate `v` against `schema` (the subset `openapi.json` uses: `$ref`
/// to components, `type` (one or a list), `properties`, `required`,
/// `items`, `enum`, `minimum`, `maximum`, `format` date and date-time).
pub fn validate(root: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| format!("{at}: unsupported $ref {r}"))?;
        let target = &root["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: no schema {name}"));
        }
        return validate(root, target, v, at);
    }
    for k in schema.as_object().map(|o| o.keys()).into_iter().flatten() {
        if ![
            "type",
            "properties",
            "required",
            "items",
            "enum",
            "format",
            "minimum",
            "maximum",
            "description",
        ]
        .contains(&k.as_str())
        {
            return Err(format!("{at}: the validator does not know `{k}`"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type")),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if v.is_null() {
        return Ok(());
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_i64), v.as_i64())
        && n < min
    {
        return Err(format!("{at}: {n} < {min}"));
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str)
        && let Some(s) = v.as_str()
    {
        let ok = match f {
            "date" => {
                s.len() == 10
                    && mta_sts_core::time::canonical_day(s.as_bytes().try_into().unwrap()).is_some()
            }
            "date-time" => mta_sts_core::time::Timestamp::parse_rfc3339(s, false).is_ok(),
            _ => return Err(format!("{at}: unknown format {f}")),
        };
        if !ok {
            return Err(format!("{at}: `{s}` is not a {f}"));
        }
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req {
            let r = r.as_str().unwrap();
            if v.get(r).is_none() {
                return Err(format!("{at}: required member `{r}` missing in {v}"));
            }
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object)
        && let Some(o) = v.as_object()
    {
        for (k, s) in props {
            if let Some(x) = o.get(k) {
                validate(root, s, x, &format!("{at}.{k}"))?;
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            validate(root, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Validate a response of `route` (an OpenAPI path) with `status`.
pub fn check_response(doc: &Value, route: &str, status: u16, body: &Value) {
    let op = &doc["paths"][route]["get"];
    assert!(!op.is_null(), "{route} is not in openapi.json");
    let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{route}: openapi.json has no {status} response"
    );
    if let Err(e) = validate(doc, schema, body, "$") {
        panic!("{route} {status}: {e}");
    }
}

/// Sign in through the form; the session cookie (`name=value`) and the
/// Set-Cookie line.
pub async fn login(site: &Site, token: &str) -> (String, String) {
    let form = site.request(Req::get("/login")).await;
    assert_eq!(form.status, 200);
    let set = form.set_cookies();
    let login_cookie = set
        .iter()
        .find(|c| c.starts_with("mtasts_login="))
        .expect("login cookie");
    let csrf = login_cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("mtasts_login=")
        .unwrap()
        .to_owned();
    assert!(
        form.text().contains(&format!("value=\"{csrf}\"")),
        "{}",
        form.text()
    );
    let a = site
        .request(Req {
            cookie: Some(&format!("mtasts_login={csrf}")),
            ..Req::post(
                "/login",
                "application/x-www-form-urlencoded",
                format!("csrf={csrf}&token={}", token.replace('.', "%2E")),
            )
        })
        .await;
    assert_eq!(a.status, 303, "{}", a.text());
    assert_eq!(a.header("location").as_deref(), Some("/"));
    let line = a
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("mtasts_session="))
        .expect("session cookie");
    let pair = line.split(';').next().unwrap().to_owned();
    (pair, line)
}
