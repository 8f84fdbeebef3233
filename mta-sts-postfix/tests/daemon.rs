//! The socketmap daemon against real loopback servers: test-support DNS and
//! HTTPS (with a throw-away CA), netstring requests over real TCP and Unix
//! connections. The system resolver is never used. The daemon's `tracing`
//! events are captured per daemon by a small `Layer`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mta_sts_postfix::config::Config;
use mta_sts_postfix::daemon::{Daemon, DaemonHandle};
use mta_sts_postfix::socketmap::{self, Frame, MAX_NETSTRING};
use policy_fetch::error::Chain;
use policy_fetch::store::{RedbStore, Store};
use test_support::{
    CertSet, DnsServer, HttpsServer, POLICY_PATH, Response, Routes, TempDir, TestCa, Zones,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tracing::field::{Field, Visit};
use tracing::instrument::WithSubscriber;
use tracing::{Dispatch, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const GOOD: &str = "OK secure match=mail.loc servername=hostname";
const NOTFOUND: &str = "NOTFOUND ";
const WILD_POLICY: &str =
    "version: STSv1\nmode: enforce\nmx: *.wild.loc\nmx: mail.wild.loc\nmax_age: 86400\n";
const SLOW_CHUNK: &str = "version: STSv1\nmode: enforce\nmx: mail.loc\nmax_age: 86400\n";

fn resolver_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mta-sts-core/tests/data")
}

fn refdata(name: &str) -> Vec<(String, String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/postfix-mta-sts-resolver")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (req, answer) = l.split_once('\t').unwrap();
            let (zone, key) = req.split_once(' ').unwrap();
            (zone.to_owned(), key.to_owned(), answer.to_owned())
        })
        .collect()
}

/// The reference domains: DNS, HTTPS and the CA file.
struct Env {
    ca: TestCa,
    dns: DnsServer,
    https: HttpsServer,
    tmp: TempDir,
    ca_file: PathBuf,
}

/// `(domain, status, content type, body)` of `policies.tsv`, plus the
/// domains of these tests.
fn policies() -> Vec<(String, u16, String, Vec<u8>)> {
    let data = resolver_data();
    let text = std::fs::read_to_string(data.join("resolver/policies.tsv")).unwrap();
    let mut out: Vec<_> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let body = std::fs::read(data.join(f[3])).unwrap();
            (
                f[0].to_owned(),
                f[1].parse().unwrap(),
                f[2].to_owned(),
                body,
            )
        })
        .collect();
    out.push((
        "wild.loc".into(),
        200,
        "text/plain".into(),
        WILD_POLICY.into(),
    ));
    out
}

fn zones(txt_id: &str) -> Zones {
    let data = resolver_data();
    let text = std::fs::read_to_string(data.join("resolver/txt-records.tsv")).unwrap();
    let mut z = Zones::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, record) = l.split_once('\t').unwrap();
        let record = if name == "_mta-sts.good.loc" {
            format!("v=STSv1;id={txt_id};")
        } else {
            record.to_owned()
        };
        z = z.txt(name, &[record.as_str()]);
    }
    for d in ["wild.loc", "slow.loc", "stall.loc"] {
        z = z.txt(&format!("_mta-sts.{d}"), &["v=STSv1; id=1;"]);
    }
    for (d, ..) in policies() {
        z = z.a(&format!("mta-sts.{d}"), Ipv4Addr::LOCALHOST);
    }
    for d in ["slow.loc", "stall.loc"] {
        z = z.a(&format!("mta-sts.{d}"), Ipv4Addr::LOCALHOST);
    }
    z
}

fn routes() -> Routes {
    let mut r = Routes::new();
    for (d, status, ct, body) in policies() {
        r = r.route(
            &format!("mta-sts.{d}"),
            POLICY_PATH,
            Response::with_status(status, Some(&ct), body),
        );
    }
    // Two copies of a policy, 400 ms apart (repeated fields are ignored).
    r.route(
        "mta-sts.slow.loc",
        POLICY_PATH,
        Response::Trickle {
            chunk: SLOW_CHUNK.into(),
            interval: Duration::from_millis(400),
            count: 2,
        },
    )
    .route("mta-sts.stall.loc", POLICY_PATH, Response::Stall)
}

fn certs(ca: &TestCa) -> CertSet {
    let mut names: Vec<String> = policies()
        .into_iter()
        .map(|(d, ..)| format!("mta-sts.{d}"))
        .collect();
    names.extend(["mta-sts.slow.loc".into(), "mta-sts.stall.loc".into()]);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    CertSet::new(ca.issue(&refs))
        // Issued by a CA nobody trusts.
        .with_sni(
            "mta-sts.bad-cert1.loc",
            TestCa::self_signed(&["mta-sts.bad-cert1.loc"]),
        )
        // Trusted CA, wrong name.
        .with_sni(
            "mta-sts.bad-cert2.loc",
            ca.issue(&["mta-sts.not-bad-cert2.loc"]),
        )
}

impl Env {
    async fn new() -> Self {
        Self::with_zones(zones("20180907T090909")).await
    }

    async fn with_zones(zones: Zones) -> Self {
        let ca = TestCa::new();
        let dns = DnsServer::start(zones).await.unwrap();
        let https = HttpsServer::start_with(certs(&ca), routes()).await.unwrap();
        let tmp = TempDir::new("pf-daemon");
        let ca_file = tmp.0.join("ca.pem");
        std::fs::write(&ca_file, ca.ca_pem()).unwrap();
        Self {
            ca,
            dns,
            https,
            tmp,
            ca_file,
        }
    }

    /// A configuration on 127.0.0.1:0 using these servers, plus `extra`
    /// TOML.
    fn config(&self, extra: &str) -> Config {
        self.config_for(self.dns.addr(), self.https.addr(), extra)
    }

    fn config_for(&self, dns: SocketAddr, https: SocketAddr, extra: &str) -> Config {
        let text = format!(
            "listen = [\"127.0.0.1:0\"]\nresolver = \"{dns}\"\nca_file = \"{}\"\nhttps_port = {}\n{extra}",
            self.ca_file.display(),
            https.port()
        );
        Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
}

/// One `tracing` event of the daemon.
#[derive(Debug, Clone)]
struct Event {
    level: Level,
    message: String,
    /// The other fields, rendered (`Display` for `%` fields).
    fields: BTreeMap<String, String>,
}

impl Event {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl Visit for Event {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Event {
    fn record(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

/// Collects the events of the daemons started with it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Event>>>);

impl Log {
    fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    /// The events with this level and message.
    fn find(&self, level: Level, message: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.level == level && e.message == message)
            .collect()
    }

    fn dispatch(&self) -> Dispatch {
        tracing_subscriber::registry().with(self.clone()).into()
    }
}

impl<S: Subscriber> Layer<S> for Log {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut e = Event {
            level: *event.metadata().level(),
            message: String::new(),
            fields: BTreeMap::new(),
        };
        event.record(&mut e);
        self.0.lock().unwrap().push(e);
    }
}

/// Start a daemon logging to `log` (and only to it: the daemon's tasks
/// carry the subscriber that was the default at the start).
async fn start(config: Config, log: &Log) -> DaemonHandle {
    Daemon::start(config)
        .with_subscriber(log.dispatch())
        .await
        .unwrap()
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A socketmap client.
struct Client {
    io: Box<dyn Io>,
    buf: Vec<u8>,
}

const READ_LIMIT: Duration = Duration::from_secs(20);

impl Client {
    async fn tcp(addr: SocketAddr) -> Self {
        Self {
            io: Box::new(TcpStream::connect(addr).await.unwrap()),
            buf: Vec::new(),
        }
    }

    async fn unix(path: &Path) -> Self {
        Self {
            io: Box::new(UnixStream::connect(path).await.unwrap()),
            buf: Vec::new(),
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    async fn send(&mut self, name: &str, key: &str) {
        let req = socketmap::encode(format!("{name} {key}").as_bytes());
        self.send_raw(&req).await;
    }

    /// The next reply, or `None` at end of stream.
    async fn reply(&mut self) -> Option<String> {
        read_reply(&mut self.io, &mut self.buf).await
    }

    async fn ask(&mut self, name: &str, key: &str) -> String {
        self.send(name, key).await;
        self.reply().await.expect("a reply")
    }
}

/// The next reply on `io` (bytes already read in `buf`), or `None` at end
/// of stream.
async fn read_reply<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut Vec<u8>,
) -> Option<String> {
    tokio::time::timeout(READ_LIMIT, async {
        loop {
            if let Frame::Complete { payload, consumed } =
                socketmap::decode(buf, MAX_NETSTRING).expect("reply is a netstring")
            {
                let s = String::from_utf8(payload.to_vec()).unwrap();
                buf.drain(..consumed);
                return Some(s);
            }
            let mut chunk = [0u8; 4096];
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    assert!(buf.is_empty(), "truncated reply {buf:?}");
                    return None;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("reply within the time limit")
}

/// A daemon started with `config` (added to the test configuration)
/// answers every line of the reference file `file` as expected.
async fn replay_with(config: &str, file: &str) {
    let env = Env::new().await;
    let d = start(env.config(config), &Log::default()).await;
    let mut c = Client::tcp(d.local_addrs()[0]).await;
    replay(&mut c, file).await;
    d.shutdown().await;
}

async fn replay(client: &mut Client, file: &str) {
    let lines = refdata(file);
    assert_eq!(lines.len(), 21);
    for (zone, key, want) in lines {
        let got = client.ask(&zone, &key).await;
        assert_eq!(got, want, "{file}: {zone} {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refdata_default_over_tcp_and_unix() {
    let env = Env::new().await;
    let sock = env.tmp.0.join("socketmap");
    let log = Log::default();
    let d = start(
        env.config(&format!(
            "unix = [\"{}\"]\n[zones.test]\nrequire_sni = true\n",
            sock.display()
        )),
        &log,
    )
    .await;
    assert_eq!(d.unix_paths(), std::slice::from_ref(&sock));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o660);

    let mut tcp = Client::tcp(d.local_addrs()[0]).await;
    replay(&mut tcp, "refdata.tsv").await;
    let mut unix = Client::unix(&sock).await;
    replay(&mut unix, "refdata.tsv").await;

    // Both bad-cert domains reached the policy host and failed on the
    // certificate: one unknown issuer, one wrong name.
    let failures = log.find(Level::INFO, "policy failure");
    for domain in ["bad-cert1.loc", "bad-cert2.loc"] {
        let f = failures
            .iter()
            .find(|e| e.field("domain") == Some(domain))
            .unwrap_or_else(|| panic!("{domain}: {:#?}", log.events()));
        assert_eq!(f.field("result_type"), Some("sts-webpki-invalid"), "{f:?}");
        assert!(f.field("reason").is_some_and(|r| !r.is_empty()), "{f:?}");
    }
    let listening: Vec<_> = log
        .find(Level::INFO, "listening")
        .into_iter()
        .map(|e| e.field("listener").unwrap().to_owned())
        .collect();
    assert_eq!(
        listening,
        [
            d.local_addrs()[0].to_string(),
            format!("unix:{}", sock.display())
        ]
    );
    let sni: Vec<_> = env
        .https
        .handshakes()
        .into_iter()
        .filter_map(|h| h.sni)
        .collect();
    assert!(sni.iter().any(|s| s == "mta-sts.bad-cert1.loc"));
    assert!(sni.iter().any(|s| s == "mta-sts.bad-cert2.loc"));
    // IP literals and parent-domain probes caused no DNS query.
    let queries = env.dns.queries();
    assert!(
        queries
            .iter()
            .all(|q| !q.name.contains("1.2.3.4") && !q.name.starts_with("_mta-sts..")),
        "{queries:?}"
    );
    d.shutdown().await;
    assert!(!sock.exists(), "socket file removed at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refdata_nosni() {
    replay_with(
        "[default_zone]\nrequire_sni = false\n[zones.test]\nrequire_sni = false\n",
        "refdata_nosni.tsv",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refdata_strict() {
    replay_with(
        "[default_zone]\nstrict_testing = true\n[zones.test]\nstrict_testing = true\n",
        "refdata_strict.tsv",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_policy_survives_restart_and_failed_refetch() {
    let env = Env::new().await;
    let state = env.tmp.0.join("state");
    let extra = format!("state_dir = \"{}\"\n", state.display());
    let d = start(env.config(&extra), &Log::default()).await;
    let mut c = Client::tcp(d.local_addrs()[0]).await;
    assert_eq!(c.ask("postfix", "good.loc").await, GOOD);
    drop(c);
    d.shutdown().await;
    assert!(state.join("policies.redb").exists());

    // New servers: the TXT id changed (so a refetch is due) and the policy
    // host answers 500 to everything.
    let dns = DnsServer::start(zones("20990101T000000")).await.unwrap();
    let broken = HttpsServer::start_with(
        certs(&env.ca),
        Routes::new().route(
            "*",
            POLICY_PATH,
            Response::with_status(500, Some("text/plain"), "down"),
        ),
    )
    .await
    .unwrap();
    let d = start(
        env.config_for(dns.addr(), broken.addr(), &extra),
        &Log::default(),
    )
    .await;
    assert_eq!(d.service().len(), 1, "loaded from the store");
    let mut c = Client::tcp(d.local_addrs()[0]).await;
    assert_eq!(c.ask("postfix", "good.loc").await, GOOD);
    assert_eq!(
        broken.requests().len(),
        1,
        "the refetch was tried and failed; the cached policy answered"
    );
    // No policy cached for this one: the failed fetch gives NOTFOUND.
    assert_eq!(c.ask("postfix", "wild.loc").await, NOTFOUND);
    d.shutdown().await;
}

/// Issue 14 item 3: two daemons ("MTA nodes") sharing one policy cache in
/// the real PostgreSQL server: the second answers from what the first
/// fetched without a fetch of its own, and the cache survives a restart
/// of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_a_policy_cache_in_postgresql() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let env = Env::new().await;
    let extra = |node: &str| format!("database = \"{}\"\n", db.url(node));
    let policy_requests = |https: &HttpsServer| {
        https
            .requests()
            .iter()
            .filter(|r| r.path == POLICY_PATH)
            .count()
    };
    let a = start(env.config(&extra("node-a")), &Log::default()).await;
    let b = start(env.config(&extra("node-b")), &Log::default()).await;
    let mut ca = Client::tcp(a.local_addrs()[0]).await;
    let mut cb = Client::tcp(b.local_addrs()[0]).await;
    assert_eq!(ca.ask("postfix", "good.loc").await, GOOD);
    assert_eq!(policy_requests(&env.https), 1);
    assert_eq!(cb.ask("postfix", "good.loc").await, GOOD);
    assert_eq!(policy_requests(&env.https), 1, "node B fetched nothing");
    let mb = b.service().metrics();
    assert_eq!((mb.fetches, mb.store_hits), (0, 1));
    assert_eq!(
        db.value("SELECT count(*) FROM mtasts_policy_cache"),
        Some("1".to_owned())
    );
    drop((ca, cb));
    a.shutdown().await;
    b.shutdown().await;

    // Both restarted: the entry is loaded from the database; the policy
    // host is not asked again.
    let a = start(env.config(&extra("node-a2")), &Log::default()).await;
    assert_eq!(a.service().len(), 1, "loaded from the database");
    let mut ca = Client::tcp(a.local_addrs()[0]).await;
    assert_eq!(ca.ask("postfix", "good.loc").await, GOOD);
    assert_eq!(policy_requests(&env.https), 1);
    drop(ca);
    a.shutdown().await;

    // `database` and `state_dir` exclude each other.
    let both = format!(
        "{}state_dir = \"{}\"\n",
        extra("x"),
        env.tmp.0.join("s").display()
    );
    let text = format!("listen = [\"127.0.0.1:0\"]\n{both}");
    let e = Config::from_toml(&text).unwrap_err();
    assert!(
        e.to_string()
            .contains("state_dir and database are both set"),
        "{e}"
    );
    // A database that cannot be reached fails the start with the server
    // named and no password shown.
    let bad = env
        .config("database = \"postgresql://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2\"\n");
    let e = Daemon::start(bad).await.unwrap_err().to_string();
    assert!(e.contains("postgresql://postgres@127.0.0.1:1/x"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_changes_zone_settings_only() {
    let env = Env::new().await;
    let d = start(env.config(""), &Log::default()).await;
    let addr = d.local_addrs()[0];
    let mut c = Client::tcp(addr).await;
    assert_eq!(c.ask("test", "good.loc").await, GOOD);
    assert_eq!(c.ask("test", "testing.loc").await, NOTFOUND);

    let out = d
        .reload(env.config("[zones.test]\nrequire_sni = false\nstrict_testing = true\n"))
        .unwrap();
    assert!(out.restart_needed.is_empty(), "{out:?}");
    // Same connection, new settings for `test`; other names unchanged.
    assert_eq!(c.ask("test", "good.loc").await, "OK secure match=mail.loc");
    assert_eq!(
        c.ask("test", "testing.loc").await,
        "OK secure match=mail.loc"
    );
    assert_eq!(c.ask("other", "good.loc").await, GOOD);

    // Listener changes are reported, not applied.
    let mut cfg = env.config("state_dir = \"/nonexistent\"");
    cfg.listen = Some(vec!["127.0.0.1:1".parse().unwrap()]);
    let out = d.reload(cfg).unwrap();
    assert_eq!(out.restart_needed, ["listen", "state_dir"]);
    assert_eq!(d.local_addrs(), [addr]);
    assert_eq!(
        c.ask("test", "good.loc").await,
        GOOD,
        "zones of the last reload"
    );

    // An invalid configuration is refused; the running one stays.
    let mut bad = env.config("[zones.test]\nrequire_sni = false\n");
    bad.limits.max_pipelined = 0;
    assert!(d.reload(bad).is_err());
    assert_eq!(c.ask("test", "good.loc").await, GOOD);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_then_closes_listeners() {
    let env = Env::new().await;
    let sock = env.tmp.0.join("s");
    let d = start(
        env.config(&format!("unix = [\"{}\"]", sock.display())),
        &Log::default(),
    )
    .await;
    let addr = d.local_addrs()[0];
    let mut idle = Client::tcp(addr).await;
    assert_eq!(idle.ask("x", "[1.2.3.4]").await, NOTFOUND);
    let mut busy = Client::unix(&sock).await;
    busy.send("x", "slow.loc").await; // the policy takes ~800 ms
    tokio::time::sleep(Duration::from_millis(150)).await;

    let t = Instant::now();
    d.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(
        busy.reply().await.as_deref(),
        Some(GOOD),
        "in-flight request answered"
    );
    assert_eq!(busy.reply().await, None, "then closed");
    assert_eq!(idle.reply().await, None, "idle connection closed");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "TCP listener closed"
    );
    assert!(!sock.exists(), "socket file removed");
    assert!(UnixStream::connect(&sock).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_netstrings_are_refused() {
    let env = Env::new().await;
    let log = Log::default();
    let d = start(env.config(""), &log).await;
    let addr = d.local_addrs()[0];
    let perm = "PERM malformed request";

    // Well framed but not `NAME KEY`: answered, connection kept.
    let mut c = Client::tcp(addr).await;
    c.send_raw(b"0:,7:nospace,").await;
    assert_eq!(c.reply().await.as_deref(), Some(perm));
    assert_eq!(c.reply().await.as_deref(), Some(perm));
    assert_eq!(c.ask("test", "[good.loc]").await, GOOD);

    // Not a netstring: earlier requests answered, then PERM, then closed.
    for garbage in [
        &b"abc"[..],
        b"12x",
        b":",
        b"3:abcX",
        b"100001:",
        b"99999999999999999999999:",
    ] {
        let mut c = Client::tcp(addr).await;
        let mut bytes = socketmap::encode(b"test .good.loc");
        bytes.extend_from_slice(garbage);
        c.send_raw(&bytes).await;
        assert_eq!(c.reply().await.as_deref(), Some(NOTFOUND));
        assert_eq!(c.reply().await.as_deref(), Some(perm), "{garbage:?}");
        assert_eq!(c.reply().await, None, "{garbage:?}");
    }
    // A frame split across many writes is fine.
    let mut c = Client::tcp(addr).await;
    for b in socketmap::encode(b"test good.loc") {
        c.send_raw(&[b]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(c.reply().await.as_deref(), Some(GOOD));
    assert_eq!(d.stats().malformed, 8);
    d.shutdown().await;
    // One warning per malformed request, with the listener and the cause.
    let warnings = log.find(Level::WARN, "malformed socketmap request");
    assert_eq!(warnings.len(), 8, "{warnings:#?}");
    let addr = addr.to_string();
    assert!(
        warnings
            .iter()
            .all(|w| w.field("listener") == Some(addr.as_str())),
        "{warnings:#?}"
    );
    let closing = |c: &str| {
        warnings
            .iter()
            .filter(|w| w.field("closing") == Some(c))
            .count()
    };
    assert_eq!((closing("false"), closing("true")), (2, 6));
    for w in &warnings {
        let error = w.field("error").unwrap();
        if w.field("closing") == Some("false") {
            assert_eq!(error, "request has no space between map name and key");
        } else {
            assert!(error.starts_with("netstring"), "{w:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_pipelined_on_one_connection() {
    let env = Env::new().await;
    let d = start(env.config("[limits]\nmax_pipelined = 8"), &Log::default()).await;
    let cases = [
        ("good.loc", GOOD),
        ("[1.2.3.4]", NOTFOUND),
        ("no-record.loc", NOTFOUND),
        (
            "wild.loc",
            "OK secure match=.wild.loc:mail.wild.loc servername=hostname",
        ),
        ("testing.loc", NOTFOUND),
        ("GOOD.LOC.", GOOD),
        ("bad-policy1.loc", NOTFOUND),
    ];
    let n = 300;
    let mut bytes = Vec::new();
    for i in 0..n {
        let (key, _) = cases[i % cases.len()];
        socketmap::encode_into(&mut bytes, format!("postfix {key}").as_bytes());
    }
    // Write from another task while reading: the daemon stops reading
    // while 8 answers are pending.
    let (mut rd, mut wr) = TcpStream::connect(d.local_addrs()[0])
        .await
        .unwrap()
        .into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(&bytes).await.unwrap();
        wr
    });
    let mut buf = Vec::new();
    for i in 0..n {
        let (key, want) = cases[i % cases.len()];
        assert_eq!(
            read_reply(&mut rd, &mut buf).await.as_deref(),
            Some(want),
            "request {i}: {key}"
        );
    }
    drop(writer.await.unwrap());
    assert_eq!(d.stats().requests, n as u64);
    assert_eq!(d.stats().connections, 1);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tlsrpt_attributes() {
    let env = Env::new().await;
    let d = start(
        env.config(
            "[zones.rpt]\ntlsrpt = true\n[zones.rpt-nosni]\ntlsrpt = true\nrequire_sni = false\n",
        ),
        &Log::default(),
    )
    .await;
    let mut c = Client::tcp(d.local_addrs()[0]).await;
    assert_eq!(
        c.ask("rpt", "[Wild.loc.]:25").await,
        "OK secure match=.wild.loc:mail.wild.loc servername=hostname \
         policy_type=sts policy_domain=wild.loc \
         mx_host_pattern=*.wild.loc mx_host_pattern=mail.wild.loc \
         { policy_string = version: STSv1 } { policy_string = mode: enforce } \
         { policy_string = mx: *.wild.loc } { policy_string = mx: mail.wild.loc } \
         { policy_string = max_age: 86400 }"
    );
    assert_eq!(
        c.ask("rpt-nosni", "good.loc").await,
        "OK secure match=mail.loc policy_type=sts policy_domain=good.loc mx_host_pattern=mail.loc \
         { policy_string = version: STSv1 } { policy_string = mode: enforce } \
         { policy_string = mx: mail.loc } { policy_string = max_age: 86400 }"
    );
    assert_eq!(c.ask("rpt", "testing.loc").await, NOTFOUND);
    assert_eq!(c.ask("rpt", "valid-none.loc").await, NOTFOUND);
    assert_eq!(
        c.ask("test", "wild.loc").await,
        "OK secure match=.wild.loc:mail.wild.loc servername=hostname"
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_connections_idle_and_lookup_timeout() {
    let env = Env::new().await;
    let log = Log::default();
    let d = start(
        env.config(
            "[limits]\nmax_connections = 1\nidle_timeout_secs = 2\nlookup_timeout_secs = 1\n",
        ),
        &log,
    )
    .await;
    let addr = d.local_addrs()[0];
    let mut first = Client::tcp(addr).await;
    assert_eq!(first.ask("test", "good.loc").await, GOOD);

    // The second connection waits for a slot.
    let mut second = Client::tcp(addr).await;
    second.send("test", "good.loc").await;
    let early = tokio::time::timeout(Duration::from_millis(300), second.reply()).await;
    assert!(early.is_err(), "no answer while the only slot is taken");
    drop(first);
    assert_eq!(second.reply().await.as_deref(), Some(GOOD));

    // A lookup past the deadline: nothing cached, so NOTFOUND.
    let t = Instant::now();
    assert_eq!(second.ask("test", "stall.loc").await, NOTFOUND);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(d.stats().lookup_timeouts, 1);
    let late = log.find(
        Level::WARN,
        "lookup still running at the deadline; answered from the cache",
    );
    assert_eq!(late.len(), 1, "{late:#?}");
    assert_eq!(late[0].field("domain"), Some("stall.loc"));

    // Idle for two seconds: closed.
    assert_eq!(second.reply().await, None);
    let idle = t.elapsed();
    assert!(
        idle >= Duration::from_millis(1900) && idle < Duration::from_secs(4),
        "{idle:?}"
    );

    // Shutdown does not wait for the stalled lookup.
    let t = Instant::now();
    d.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors() {
    let env = Env::new().await;
    let d = start(env.config(""), &Log::default()).await;
    let mut cfg = env.config("");
    cfg.listen = Some(d.local_addrs().to_vec());
    let err = Daemon::start(cfg).await.unwrap_err();
    let e = Chain(&err).to_string();
    assert!(
        e.starts_with(&format!("cannot listen on {}: ", d.local_addrs()[0])),
        "{e}"
    );
    let cause = std::error::Error::source(&err).expect("the io error is the source");
    assert_eq!(
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind),
        Some(std::io::ErrorKind::AddrInUse)
    );

    // A live Unix socket is not taken over; a regular file is not removed.
    let sock = env.tmp.0.join("live");
    let d2 = start(
        env.config(&format!("unix = [\"{}\"]", sock.display())),
        &Log::default(),
    )
    .await;
    let e = Daemon::start(env.config(&format!("unix = [\"{}\"]", sock.display())))
        .await
        .map(|_| ())
        .map_err(|e| Chain(&e).to_string())
        .unwrap_err();
    assert!(e.contains("another process"), "{e}");
    let file = env.tmp.0.join("file");
    std::fs::write(&file, "x").unwrap();
    let e = Daemon::start(env.config(&format!("unix = [\"{}\"]", file.display())))
        .await
        .map(|_| ())
        .map_err(|e| Chain(&e).to_string())
        .unwrap_err();
    assert!(e.contains("not a socket"), "{e}");
    assert!(file.exists());

    // A stale socket file is replaced.
    drop(std::os::unix::net::UnixListener::bind(env.tmp.0.join("stale")).unwrap());
    let d3 = start(
        env.config(&format!(
            "unix = [\"{}\"]",
            env.tmp.0.join("stale").display()
        )),
        &Log::default(),
    )
    .await;
    let mut c = Client::unix(&env.tmp.0.join("stale")).await;
    assert_eq!(c.ask("t", ".x").await, NOTFOUND);

    let mut bad_ca = env.config("");
    bad_ca.ca_file = Some(env.tmp.0.join("missing.pem"));
    assert!(
        Daemon::start(bad_ca)
            .await
            .map(|_| ())
            .map_err(|e| Chain(&e).to_string())
            .unwrap_err()
            .contains("missing.pem")
    );
    d3.shutdown().await;
    d2.shutdown().await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_daemon_logs_to_the_subscriber_of_its_start() {
    let env = Env::new().await;
    let (one, two) = (Log::default(), Log::default());
    let d1 = start(env.config(""), &one).await;
    let d2 = start(env.config(""), &two).await;
    // Events of connection and lookup tasks, on whichever worker thread
    // they run, reach the subscriber of their own daemon only.
    let mut c = Client::tcp(d1.local_addrs()[0]).await;
    c.send_raw(b"7:nospace,").await;
    assert_eq!(c.reply().await.as_deref(), Some("PERM malformed request"));
    assert_eq!(c.ask("test", "bad-cert1.loc").await, NOTFOUND);
    let listener = d1.local_addrs()[0].to_string();
    d1.shutdown().await;
    d2.shutdown().await;
    let accepted = one.find(Level::DEBUG, "connection accepted");
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
    assert_eq!(accepted[0].field("listener"), Some(listener.as_str()));
    assert_eq!(
        one.find(Level::WARN, "malformed socketmap request").len(),
        1
    );
    let answered = one.find(Level::DEBUG, "lookup");
    assert_eq!(answered.len(), 1, "{answered:#?}");
    assert_eq!(answered[0].field("domain"), Some("bad-cert1.loc"));
    assert_eq!(answered[0].field("map"), Some("test"));
    assert_eq!(answered[0].field("answer"), Some("NOTFOUND"));
    assert_eq!(answered[0].field("cache"), Some("miss"));
    assert_eq!(one.find(Level::INFO, "policy failure").len(), 1);
    // The second daemon only said where it listens.
    let theirs: Vec<_> = two.events().into_iter().map(|e| e.message).collect();
    assert_eq!(theirs, ["listening"]);
}

/// A cache file that redb cannot read: the daemon moves it aside, logs an
/// error naming both paths, starts with an empty cache and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_cache_file_is_moved_aside_and_the_daemon_starts() {
    let env = Env::new().await;
    let state = env.tmp.0.join("state");
    let extra = format!("state_dir = \"{}\"\n", state.display());
    // A real cache first, so the damage is to a genuine store file.
    let d = start(env.config(&extra), &Log::default()).await;
    let mut c = Client::tcp(d.local_addrs()[0]).await;
    assert_eq!(c.ask("postfix", "good.loc").await, GOOD);
    drop(c);
    d.shutdown().await;
    let file = state.join("policies.redb");
    let good = std::fs::read(&file).unwrap();

    for (damage, bytes) in [
        // Truncated: redb panics on this one; the panic is caught.
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", b"not a redb file at all".to_vec()),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let log = Log::default();
        let d = start(env.config(&extra), &log).await;
        let errors = log.find(
            Level::ERROR,
            "the policy cache file was unreadable; moved aside, starting with an empty cache",
        );
        assert_eq!(errors.len(), 1, "{damage}: {:#?}", log.events());
        let moved = errors[0].field("moved_to").unwrap().to_owned();
        assert!(
            moved.starts_with(&format!("{}.corrupt-", file.display())),
            "{damage}: {moved}"
        );
        assert_eq!(
            std::fs::read(&moved).unwrap(),
            bytes,
            "{damage}: kept as it was"
        );
        assert_eq!(d.service().len(), 0, "{damage}: empty cache");
        let mut c = Client::tcp(d.local_addrs()[0]).await;
        assert_eq!(c.ask("postfix", "good.loc").await, GOOD, "{damage}");
        drop(c);
        d.shutdown().await;
        std::fs::remove_file(&moved).unwrap();
        // The rebuilt cache is a good store again.
        assert!(
            RedbStore::open(&file)
                .unwrap()
                .load_all()
                .unwrap()
                .entries
                .len()
                == 1
        );
    }
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Wait until `f` holds, at most `limit`.
async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

const BUSY: &str = "TEMP busy, try again later";

/// The attack of issue 15 item 1: connect, pipeline 64 lookups of random
/// names under a zone whose DNS server never answers, close; again and
/// again. Lookups in flight, sockets and memory must stay bounded, a
/// cached domain must still be answered at once, and a domain must not be
/// pushed into the retry back-off by the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_flood_against_a_silent_dns_zone_is_bounded() {
    let env = Env::with_zones(zones("20180907T090909").timeout_below("flood.loc")).await;
    let log = Log::default();
    let d = start(
        env.config(
            "[limits]\nmax_lookups = 4\nmax_waiting_lookups = 16\nlookup_timeout_secs = 3\n\
             [cache]\ntxt_check_interval_secs = 1\n",
        ),
        &log,
    )
    .await;
    let addr = d.local_addrs()[0];
    let mut c = Client::tcp(addr).await;
    assert_eq!(c.ask("x", "good.loc").await, GOOD);
    let fds_before = open_fds();

    for round in 0..40 {
        let mut flood = Client::tcp(addr).await;
        let mut batch = Vec::new();
        for i in 0..64 {
            batch.extend(socketmap::encode(
                format!("x r{round}-{i}.flood.loc").as_bytes(),
            ));
        }
        flood.send_raw(&batch).await;
        drop(flood);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = d.service().metrics();
    assert!(m.peak_running <= 4, "{m:?}");
    assert!(m.running <= 4, "{m:?}");
    assert!(m.waiting <= 16, "{m:?}");
    // The requests the closed connections left are answered (into the
    // void) at their deadline and stop waiting.
    assert!(
        eventually(Duration::from_secs(6), || d.service().metrics().waiting
            == 0)
        .await,
        "{:?}",
        d.service().metrics()
    );
    let fds = open_fds();
    assert!(
        fds < fds_before + 100,
        "file descriptors grew from {fds_before} to {fds}"
    );

    // good.loc is cached but due for its TXT check: every discovery slot is
    // taken, so it is answered from the cache at once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t = Instant::now();
    assert_eq!(c.ask("x", "good.loc").await, GOOD);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert!(d.service().metrics().busy >= 1);

    // A full waiting queue: the overflow is answered TEMP at once, the
    // queued requests TEMP at the lookup deadline (they never started).
    let mut batch = Vec::new();
    for i in 0..30 {
        batch.extend(socketmap::encode(format!("x q{i}.flood.loc").as_bytes()));
    }
    let busy_before = d.stats().busy;
    let mut q = Client::tcp(addr).await;
    q.send_raw(&batch).await;
    let mut replies = Vec::new();
    for _ in 0..30 {
        replies.push(q.reply().await.expect("a reply"));
    }
    let busy = replies.iter().filter(|r| *r == BUSY).count();
    let notfound = replies.iter().filter(|r| *r == NOTFOUND).count();
    assert_eq!(busy + notfound, 30, "{replies:?}");
    assert!(busy >= 14, "{replies:?}");
    assert_eq!(d.stats().busy - busy_before, busy as u64);
    assert!(
        !log.find(Level::WARN, "busy: every lookup slot taken, answered TEMP")
            .is_empty()
    );
    drop(q);

    // When the flood's discoveries have timed out, a domain first asked
    // during the flood is looked up normally: no back-off was recorded.
    let mut w = Client::tcp(addr).await;
    assert!(matches!(
        w.ask("x", "wild.loc").await.as_str(),
        BUSY | NOTFOUND
    ));
    assert!(
        eventually(Duration::from_secs(40), || d.service().metrics().running
            == 0)
        .await,
        "{:?}",
        d.service().metrics()
    );
    assert!(
        d.service()
            .cached_entry("wild.loc")
            .is_none_or(|e| e.last_failure.is_none())
    );
    assert_eq!(
        w.ask("x", "wild.loc").await,
        "OK secure match=.wild.loc:mail.wild.loc servername=hostname"
    );
    assert!(d.service().metrics().peak_running <= 4);
    d.shutdown().await;
}

/// Issue 15 item 2: a client that trickles a request a byte at a time, or
/// sends requests and never reads the answers, loses its slot; a
/// legitimate client then gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_and_non_reading_clients_lose_their_slots() {
    let env = Env::new().await;
    let log = Log::default();
    let sock = env.tmp.0.join("nr");
    let d = start(
        env.config(&format!(
            "unix = [\"{}\"]\n[limits]\nmax_connections = 2\nrequest_timeout_secs = 1\nwrite_timeout_secs = 1\n",
            sock.display()
        )),
        &log,
    )
    .await;
    let addr = d.local_addrs()[0];
    let mut warm = Client::tcp(addr).await;
    assert_eq!(warm.ask("x", "good.loc").await, GOOD);
    drop(warm);

    // Two tricklers take both TCP slots: "20:" then a byte every 300 ms.
    let mut tricklers = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        tricklers.push(tokio::spawn(async move {
            let start = Instant::now();
            if s.write_all(b"20:").await.is_err() {
                return start.elapsed();
            }
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if s.write_all(b"x").await.is_err() {
                    break;
                }
                let mut b = [0u8; 64];
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await
                {
                    break;
                }
            }
            start.elapsed()
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A legitimate client waits for a slot, then is answered.
    let t = Instant::now();
    let mut legit = Client::tcp(addr).await;
    assert_eq!(legit.ask("x", "good.loc").await, GOOD);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    for h in tricklers {
        let held = h.await.unwrap();
        assert!(
            held < Duration::from_secs(4),
            "trickler held its slot {held:?}"
        );
    }
    assert_eq!(d.stats().request_timeouts, 2);
    assert_eq!(
        log.find(Level::INFO, "request not complete in time; closing")
            .len(),
        2
    );

    // A client on the Unix socket that sends requests and never reads:
    // once the socket buffers are full, the answer cannot be written and
    // the connection is closed after write_timeout_secs.
    let s = UnixStream::connect(&sock).await.unwrap();
    let (_rd, mut wr) = tokio::io::split(s);
    let req = socketmap::encode(b"x good.loc");
    let writer = tokio::spawn(async move {
        let batch: Vec<u8> = req.iter().copied().cycle().take(req.len() * 1000).collect();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            match tokio::time::timeout(Duration::from_secs(5), wr.write_all(&batch)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        start.elapsed()
    });
    assert!(
        eventually(Duration::from_secs(10), || d.stats().write_timeouts == 1).await,
        "{:?}",
        d.stats()
    );
    assert_eq!(
        log.find(Level::INFO, "client does not read its answers; closing")
            .len(),
        1
    );
    assert!(writer.await.unwrap() < Duration::from_secs(15));
    assert!(
        eventually(Duration::from_secs(2), || d.stats().open_connections == 1).await,
        "{:?}",
        d.stats()
    );
    d.shutdown().await;
}

/// Issue 15 item 6: requests pipelined ahead of a slow lookup are answered
/// at shutdown, and the slow one gets `TEMP` at the deadline instead of
/// the connection being cut with nothing answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_pipelined_requests_and_temp_for_the_unfinished() {
    let env = Env::new().await;
    let d = start(
        env.config("[limits]\nshutdown_timeout_secs = 1\n"),
        &Log::default(),
    )
    .await;
    let addr = d.local_addrs()[0];
    let mut c = Client::tcp(addr).await;
    assert_eq!(c.ask("x", "good.loc").await, GOOD);
    let mut batch = socketmap::encode(b"x stall.loc");
    for _ in 0..20 {
        batch.extend(socketmap::encode(b"x good.loc"));
    }
    c.send_raw(&batch).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = d.stats();
    let t = Instant::now();
    let (shut, replies) = tokio::join!(d.shutdown(), async {
        let mut replies = Vec::new();
        while let Some(r) = c.reply().await {
            replies.push(r);
        }
        replies
    });
    let () = shut;
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(replies.len(), 21, "{replies:?}");
    assert_eq!(replies[0], "TEMP shutting down");
    assert!(replies[1..].iter().all(|r| r == GOOD), "{replies:?}");
    assert_eq!(stats.requests, 22);
}

/// Each listener has its own connection pool: clients holding every TCP
/// slot do not take the Unix socket's (docs/limits.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_listener_has_its_own_connection_pool() {
    let env = Env::new().await;
    let sock = env.tmp.0.join("pool");
    let d = start(
        env.config(&format!(
            "unix = [\"{}\"]\n[limits]\nmax_connections = 1\n",
            sock.display()
        )),
        &Log::default(),
    )
    .await;
    let addr = d.local_addrs()[0];
    let mut held = Client::tcp(addr).await;
    assert_eq!(held.ask("x", "good.loc").await, GOOD);
    // The only TCP slot is taken: a second TCP client waits ...
    let mut waiting = Client::tcp(addr).await;
    waiting.send("x", "good.loc").await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), waiting.reply())
            .await
            .is_err()
    );
    // ... but the Unix socket has a slot of its own.
    let mut unix = Client::unix(&sock).await;
    let t = Instant::now();
    assert_eq!(unix.ask("x", "good.loc").await, GOOD);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    drop(held);
    assert_eq!(waiting.reply().await.as_deref(), Some(GOOD));
    d.shutdown().await;
}

/// One HTTP exchange with the metrics listener: `request` sent as is, the
/// status line, the headers (lower-case names) and the body.
async fn http(addr: SocketAddr, request: &[u8]) -> (String, BTreeMap<String, String>, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(READ_LIMIT, s.read_to_end(&mut raw))
        .await
        .expect("the admin listener answers and closes")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_ascii_lowercase(), v.to_owned())
        })
        .collect::<BTreeMap<_, _>>();
    if !request.starts_with(b"HEAD ") {
        assert_eq!(headers["content-length"], body.len().to_string(), "{head}");
    }
    (status, headers, body.to_owned())
}

/// A text exposition, checked as Prometheus reads it: every sample
/// belongs to a family announced by `# HELP` and `# TYPE` before it.
/// Returns `name{labels}` → value.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{line}");
            helped.push(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap();
            assert!(helped.last().is_some_and(|h| h == name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&t), "{line}");
            assert!(
                types.insert(name.to_owned(), t.to_owned()).is_none(),
                "{line}"
            );
        } else {
            let (key, value) = line.rsplit_once(' ').unwrap();
            let name = key.split('{').next().unwrap();
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{line}"
            );
            let family = types
                .get(name)
                .map(|_| name)
                .or_else(|| {
                    ["_bucket", "_sum", "_count"]
                        .iter()
                        .filter_map(|s| name.strip_suffix(s))
                        .find(|f| types.get(*f).map(String::as_str) == Some("histogram"))
                })
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            let t = &types[family];
            if t == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            assert!(
                samples
                    .insert(key.to_owned(), value.parse::<f64>().unwrap())
                    .is_none(),
                "{line}"
            );
        }
    }
    samples
}

/// Issue 14 item 2: one `lookup` event per well-formed request, with where
/// the answer came from; the Prometheus listener counts the same lookups
/// exactly, and refuses what is not `GET /metrics` without harm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_events_and_prometheus_metrics() {
    let env = Env::new().await;
    let log = Log::default();
    let d = start(env.config("metrics = \"127.0.0.1:0\""), &log).await;
    let maddr = d.metrics_addr().expect("metrics listener");
    assert!(maddr.ip().is_loopback() && maddr.port() != 0, "{maddr}");
    let listening = log.find(Level::INFO, "metrics listening");
    assert_eq!(listening.len(), 1);
    assert_eq!(
        listening[0].field("listener"),
        Some(maddr.to_string().as_str())
    );

    let mut c = Client::tcp(d.local_addrs()[0]).await;
    assert_eq!(c.ask("postfix", "good.loc").await, GOOD);
    assert_eq!(c.ask("postfix", "Good.Loc.").await, GOOD);
    assert_eq!(c.ask("postfix", "testing.loc").await, NOTFOUND);
    assert_eq!(c.ask("postfix", "bad-cert1.loc").await, NOTFOUND);
    assert_eq!(c.ask("postfix", "no-record.loc").await, NOTFOUND);
    assert_eq!(c.ask("other", "[1.2.3.4]").await, NOTFOUND);
    c.send_raw(b"7:nospace,").await;
    assert_eq!(c.reply().await.as_deref(), Some("PERM malformed request"));

    // The events, in request order.
    let events = log.find(Level::DEBUG, "lookup");
    let got: Vec<[&str; 5]> = events
        .iter()
        .map(|e| ["domain", "map", "answer", "policy", "cache"].map(|f| e.field(f).unwrap_or("?")))
        .collect();
    assert_eq!(
        got,
        [
            ["good.loc", "postfix", "OK", "enforce", "fetched"],
            ["good.loc", "postfix", "OK", "enforce", "hit"],
            ["testing.loc", "postfix", "NOTFOUND", "testing", "fetched"],
            ["bad-cert1.loc", "postfix", "NOTFOUND", "absent", "miss"],
            ["no-record.loc", "postfix", "NOTFOUND", "absent", "miss"],
            ["[1.2.3.4]", "other", "NOTFOUND", "absent", "skipped"],
        ]
    );
    let latencies: Vec<u64> = events
        .iter()
        .map(|e| e.field("latency_us").unwrap().parse().unwrap())
        .collect();
    // A fetch over loopback HTTPS takes longer than a hash-map read.
    assert!(latencies[0] > latencies[1], "{latencies:?}");
    assert!(latencies.iter().all(|&l| l < 20_000_000), "{latencies:?}");

    let (status, headers, body) = http(
        maddr,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(headers["connection"], "close");
    let m = parse_exposition(&body);
    let v = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in\n{body}"));
    for (answer, n) in [("ok", 2.0), ("notfound", 4.0), ("temp", 0.0), ("perm", 1.0)] {
        assert_eq!(
            v(&format!(
                "mtasts_daemon_requests_total{{answer=\"{answer}\"}}"
            )),
            n,
            "{answer}"
        );
    }
    assert_eq!(v("mtasts_daemon_malformed_requests_total"), 1.0);
    for (cache, n) in [
        ("hit", 1.0),
        ("revalidated", 0.0),
        ("fetched", 2.0),
        ("stale", 0.0),
        ("miss", 2.0),
        ("coalesced", 0.0),
        ("store", 0.0),
        ("busy", 0.0),
        ("timeout", 0.0),
        ("skipped", 1.0),
        ("shutdown", 0.0),
        ("error", 0.0),
    ] {
        assert_eq!(
            v(&format!("mtasts_daemon_lookups_total{{cache=\"{cache}\"}}")),
            n,
            "{cache}"
        );
    }
    // The histogram: six lookups, cumulative buckets, +Inf = count.
    let h = "mtasts_daemon_lookup_duration_seconds";
    assert_eq!(v(&format!("{h}_count")), 6.0);
    let buckets: Vec<(String, f64)> = m
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{h}_bucket{{")))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    assert_eq!(buckets.len(), 17, "{buckets:?}");
    let mut ordered: Vec<(f64, f64)> = buckets
        .iter()
        .map(|(k, n)| {
            let le = k.split("le=\"").nth(1).unwrap().trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, *n)
        })
        .collect();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(ordered.windows(2).all(|w| w[0].1 <= w[1].1), "{ordered:?}");
    assert_eq!(ordered.last().unwrap(), &(f64::INFINITY, 6.0));
    let sum = v(&format!("{h}_sum"));
    let logged: f64 = latencies.iter().map(|&l| l as f64 / 1e6).sum();
    assert!((sum - logged).abs() < 1e-5, "{sum} vs {logged}");
    // Each lookup is in the bucket its logged latency says.
    for (le, n) in &ordered {
        let within = latencies
            .iter()
            .filter(|&&l| l as f64 / 1e6 <= *le + 1e-9)
            .count();
        assert_eq!(*n, within as f64, "le={le}: {latencies:?}");
    }

    // The policy service's side.
    assert_eq!(v("mtasts_cache_hits_total"), 1.0);
    assert_eq!(v("mtasts_cache_misses_total"), 4.0);
    assert_eq!(v("mtasts_cache_coalesced_total"), 0.0);
    assert_eq!(v("mtasts_dns_txt_queries_total"), 4.0);
    assert_eq!(v("mtasts_policy_fetch_attempts_total"), 3.0);
    for (outcome, n) in [
        ("ok", 2.0),
        ("fetch_error", 0.0),
        ("policy_invalid", 0.0),
        ("webpki_invalid", 1.0),
    ] {
        assert_eq!(
            v(&format!(
                "mtasts_policy_fetches_total{{outcome=\"{outcome}\"}}"
            )),
            n,
            "{outcome}"
        );
    }
    let sm = d.service().metrics();
    assert_eq!(v("mtasts_cache_entries"), d.service().len() as f64);
    assert!(sm.cached_entries >= 2, "{sm:?}");
    assert_eq!(v("mtasts_cache_bytes"), sm.cached_bytes as f64);
    assert!(sm.cached_bytes > 0);
    for (k, n) in [
        ("mtasts_daemon_connections_total", 1.0),
        ("mtasts_daemon_connections_open", 1.0),
        ("mtasts_daemon_busy_total", 0.0),
        ("mtasts_daemon_lookup_timeouts_total", 0.0),
        ("mtasts_daemon_request_timeouts_total", 0.0),
        ("mtasts_daemon_write_timeouts_total", 0.0),
        ("mtasts_daemon_shutdown_temp_total", 0.0),
        ("mtasts_cache_refreshes_total", 0.0),
        ("mtasts_cache_evictions_total", 0.0),
        ("mtasts_store_errors_total", 0.0),
        ("mtasts_store_hits_total", 0.0),
        ("mtasts_store_shared_waits_total", 0.0),
        ("mtasts_discovery_busy_total", 0.0),
        ("mtasts_discoveries_running", 0.0),
        ("mtasts_discoveries_peak", 1.0),
        ("mtasts_discoveries_waiting", 0.0),
    ] {
        assert_eq!(v(k), n, "{k}");
    }
    // The handle's counters say the same.
    let s = d.stats();
    assert_eq!(
        (
            s.answered_ok,
            s.answered_notfound,
            s.answered_temp,
            s.answered_perm,
            s.lookups,
            s.requests
        ),
        (2, 4, 0, 1, 6, 7)
    );
    assert_eq!(d.metrics_text(), body);

    // HEAD: the headers only.
    let (status, headers, body) = http(maddr, b"HEAD /metrics HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.is_empty());
    assert!(headers["content-length"].parse::<usize>().unwrap() > 1000);
    // Other paths, other methods, garbage, an endless head.
    let (status, ..) = http(maddr, b"GET /metricsx HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, ..) = http(maddr, b"GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, headers, _) = http(maddr, b"POST /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(headers["allow"], "GET, HEAD");
    let (status, _, body) = http(
        maddr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert_eq!(body, "bad request\n");
    let (status, ..) = http(maddr, b"hello world\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let (status, ..) = http(maddr, &[b'a'; 20_000]).await;
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    // A client that closes half-way gets a 400 too.
    {
        let mut s = TcpStream::connect(maddr).await.unwrap();
        s.write_all(b"GET /metr").await.unwrap();
        s.shutdown().await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        assert!(raw.starts_with(b"HTTP/1.1 400 Bad Request\r\n"), "{raw:?}");
    }

    // The daemon keeps serving, and the scrapes changed no counter.
    assert_eq!(c.ask("postfix", "good.loc").await, GOOD);
    let m2 = parse_exposition(&http(maddr, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n").await.2);
    assert_eq!(m2["mtasts_daemon_requests_total{answer=\"ok\"}"], 3.0);
    assert_eq!(m2[&format!("{h}_count")], 7.0);
    assert_eq!(m2["mtasts_daemon_connections_total"], 1.0);

    // A reload cannot move the listener.
    let outcome = d.reload(env.config("metrics = \"127.0.0.1:1\"")).unwrap();
    assert_eq!(outcome.restart_needed, ["metrics"]);
    d.shutdown().await;
    assert!(
        TcpStream::connect(maddr).await.is_err(),
        "closed at shutdown"
    );
}

/// The admin listener serves a bounded number of connections: clients
/// that send nothing hold their slots only until the request deadline,
/// and are answered `408`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listener_bounds_silent_clients() {
    let env = Env::new().await;
    let d = start(env.config("metrics = \"127.0.0.1:0\""), &Log::default()).await;
    let maddr = d.metrics_addr().unwrap();
    let n = mta_sts_postfix::metrics::MAX_ADMIN_CONNECTIONS;
    let mut silent = Vec::new();
    for _ in 0..n {
        silent.push(TcpStream::connect(maddr).await.unwrap());
    }
    // Every slot is held: a scrape waits in the backlog until the silent
    // clients time out, then gets its answer.
    let t = Instant::now();
    let (status, ..) = http(maddr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let waited = t.elapsed();
    let limit = mta_sts_postfix::metrics::ADMIN_REQUEST_TIMEOUT;
    assert!(
        waited >= limit - Duration::from_millis(500),
        "answered after {waited:?}, before the silent clients timed out"
    );
    assert!(waited < limit * 3, "{waited:?}");
    for mut s in silent {
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        assert!(
            raw.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
            "{:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    d.shutdown().await;
}

/// `state_dir` naming a regular file is a start error that says so, and
/// the file is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_dir_that_is_a_file_is_refused() {
    let env = Env::new().await;
    let file = env.tmp.0.join("state-file");
    std::fs::write(&file, "keep me").unwrap();
    let mut cfg = env.config("");
    cfg.state_dir = Some(file.clone());
    let e = Daemon::start(cfg)
        .await
        .map(|_| ())
        .map_err(|e| Chain(&e).to_string())
        .unwrap_err();
    assert_eq!(
        e,
        format!(
            "cannot use the state directory {}: not a directory",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    // A missing one is created, parents included.
    let mut cfg = env.config("");
    let nested = env.tmp.0.join("a/b/state");
    cfg.state_dir = Some(nested.clone());
    let d = start(cfg, &Log::default()).await;
    assert!(nested.join("policies.redb").is_file());
    d.shutdown().await;
}
