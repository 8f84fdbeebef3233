//! The configuration of the socketmap daemon ([`crate::daemon`]): a TOML
//! file, every key optional, unknown keys refused (with the line and
//! column in the error). `mtasts daemon` flags override the file.
//!
//! ```toml
//! listen = ["127.0.0.1:8461"]      # TCP listeners (default, see below)
//! unix = ["/run/mtasts/socketmap"] # Unix-domain listeners (default none)
//! unix_mode = 0o660                # permissions of the socket files
//! state_dir = "/var/lib/mtasts"    # policies.redb lives here (default: memory only)
//! # database = "postgresql://mtasts@db.internal/mail"  # or a cache shared by several MTAs
//! # database_table = "mtasts_policy_cache"            # "name" or "schema.name"
//! strict = false                   # strict policy reader, Content-Type required
//! # resolver = "127.0.0.1:53"      # the only DNS server (default: system's)
//! # ca_file = "/etc/mtasts/ca.pem" # trust anchors instead of the system's
//! # https_port = 443               # port of every policy fetch
//! # metrics = "127.0.0.1:9464"     # Prometheus GET /metrics (default: off)
//!
//! [limits]
//! max_connections = 1024           # open connections, per listener
//! max_pipelined = 64               # unanswered requests per connection
//! idle_timeout_secs = 300          # close a connection silent this long
//! request_timeout_secs = 10        # a started request must be complete by then
//! write_timeout_secs = 30          # an answer not taken by the client by then closes it
//! lookup_timeout_secs = 90         # then answer from the cache or NOTFOUND
//! max_lookups = 128                # discoveries (DNS + HTTPS) running at once
//! max_waiting_lookups = 1024       # lookups queued for a discovery slot
//! shutdown_timeout_secs = 10       # in-flight requests get this long
//!
//! [cache]
//! txt_check_interval_secs = 300    # re-check the TXT id of a cached policy
//! refresh_scan_secs = 900          # how often refresh/eviction runs
//! refresh_jitter_secs = 3600       # spread of the daily refreshes
//! evict_after_days = 180           # drop entries unused this long
//! max_entries = 100000             # cached domains at most (least recently used go)
//! max_size_mib = 256               # approximate memory of the cached policies
//!
//! [default_zone]                   # socketmap names not listed below
//! strict_testing = false
//! require_sni = true
//! tlsrpt = false
//!
//! [zones.postfix]                  # socketmap:inet:127.0.0.1:8461:postfix
//! tlsrpt = true
//! ```
//!
//! When neither `listen` nor `unix` is given, the daemon listens on
//! [`DEFAULT_LISTEN`]; with only `unix` given there is no TCP listener.
//! Relative paths are relative to the daemon's working directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::socketmap::ZoneSettings;
use policy_fetch::overrides::Overrides;
use policy_fetch::service::Settings;

/// The TCP address used when neither `listen` nor `unix` is configured
/// (postfix-mta-sts-resolver's port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8461";

/// The file name of the policy store inside `state_dir`.
pub const STORE_FILE: &str = "policies.redb";

/// The longest duration a setting may give (100 years, in seconds): the
/// daemon adds them to the current time, which must not overflow.
pub const MAX_DURATION_SECS: u64 = 100 * 365 * 86_400;

/// The daemon configuration (see the module docs for the file format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// TCP addresses to listen on; `None` = the default rule (see
    /// [`Config::tcp_listeners`]).
    pub listen: Option<Vec<SocketAddr>>,
    /// Unix-domain socket paths to listen on. A stale socket file is
    /// replaced; a live one (another daemon answers) or a file that is not
    /// a socket is an error.
    pub unix: Vec<PathBuf>,
    /// Permissions of the Unix socket files (default `0o660`: the daemon's
    /// user and group; put `postfix` in that group, or use `0o666`).
    pub unix_mode: u32,
    /// Directory of the persistent cache ([`STORE_FILE`]; created if
    /// missing). Without it the cache lives in memory only.
    pub state_dir: Option<PathBuf>,
    /// A PostgreSQL database for a policy cache shared by several MTAs
    /// (`postgresql://user@host/db`, or `host=/run/postgresql dbname=mail`)
    /// instead of `state_dir`'s file; the two exclude each other. No TLS:
    /// use a Unix socket, loopback or a network you trust. Fixed at start.
    pub database: Option<DatabaseUrl>,
    /// The table of the shared cache (`name` or `schema.name`; default
    /// `mtasts_policy_cache`; created when missing).
    pub database_table: Option<String>,
    /// Use the strict policy reader and require a `Content-Type` header
    /// (default false: lenient, as a sending MTA should be). In both modes
    /// a media type other than `text/plain` is refused (DEC-07).
    pub strict: bool,
    /// The only DNS server to use (`IP:PORT`); default: the system's.
    pub resolver: Option<SocketAddr>,
    /// Trust anchors (PEM) used instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Trust anchors (PEM) added to the system's.
    pub extra_ca_file: Option<PathBuf>,
    /// Port for every `https://mta-sts.<domain>/` fetch (default 443).
    pub https_port: Option<u16>,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP, no
    /// authentication: keep it on a loopback address); default: nowhere.
    /// Fixed at start (a reload that changes it needs a restart).
    pub metrics: Option<SocketAddr>,
    /// Connection and time limits.
    pub limits: Limits,
    /// Cache behaviour.
    pub cache: CacheConfig,
    /// Settings for socketmap names not listed in `zones`.
    pub default_zone: ZoneSettings,
    /// Settings per socketmap name (the last field of Postfix's
    /// `socketmap:inet:HOST:PORT:NAME`).
    pub zones: BTreeMap<String, ZoneSettings>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: None,
            unix: Vec::new(),
            unix_mode: 0o660,
            state_dir: None,
            database: None,
            database_table: None,
            strict: false,
            resolver: None,
            ca_file: None,
            extra_ca_file: None,
            https_port: None,
            metrics: None,
            limits: Limits::default(),
            cache: CacheConfig::default(),
            default_zone: ZoneSettings::default(),
            zones: BTreeMap::new(),
        }
    }
}

/// A PostgreSQL connection string. Its `Debug` form leaves out the
/// password ([`policy_fetch::pg_store::describe_connection`]), so that a
/// logged configuration never shows it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The connection string as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&policy_fetch::pg_store::describe_connection(&self.0))
    }
}

/// Connection and time limits (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open connections per listener (default 1024); further connections
    /// wait in the listen backlog. Each listener has its own pool, so
    /// clients of one (say TCP) cannot take the slots of another (the Unix
    /// socket Postfix uses).
    pub max_connections: usize,
    /// Requests read ahead of their answers on one connection (default
    /// 64); Postfix itself sends one at a time.
    pub max_pipelined: usize,
    /// A connection with no request for this long is closed (default 300;
    /// Postfix closes idle ones after 10 s itself).
    pub idle_timeout_secs: u64,
    /// A request whose first byte arrived this long ago and that is still
    /// incomplete closes the connection (default 10): a client trickling
    /// a byte at a time cannot hold a slot.
    pub request_timeout_secs: u64,
    /// An answer the client has not taken (the socket buffer stays full)
    /// for this long closes the connection (default 30): a client that
    /// sends requests and never reads cannot hold a slot.
    pub write_timeout_secs: u64,
    /// A lookup still running after this long is answered from the cache,
    /// or `NOTFOUND ` (default 90, below Postfix's 100 s socketmap
    /// timeout); the lookup goes on in the background. A request still
    /// queued for a discovery slot then (see `max_lookups`) gets `TEMP`.
    pub lookup_timeout_secs: u64,
    /// Discoveries (DNS and HTTPS for a domain not answered from memory)
    /// running at once over all connections (default 128). This bounds
    /// the sockets and memory lookups use, whatever clients send.
    pub max_lookups: usize,
    /// Lookups waiting for a discovery slot (default 1024). When the queue
    /// is full, a domain with a valid cached policy is answered from the
    /// cache and any other gets `TEMP` (Postfix defers the message and
    /// retries); a cached domain is never starved.
    pub max_waiting_lookups: usize,
    /// On shutdown, in-flight requests get this long (default 10); what
    /// is still unanswered then gets `TEMP`.
    pub shutdown_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_pipelined: 64,
            idle_timeout_secs: 300,
            request_timeout_secs: 10,
            write_timeout_secs: 30,
            lookup_timeout_secs: 90,
            max_lookups: 128,
            max_waiting_lookups: 1024,
            shutdown_timeout_secs: 10,
        }
    }
}

impl Limits {
    /// `idle_timeout_secs` as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// `request_timeout_secs` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// `write_timeout_secs` as a duration.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }

    /// `lookup_timeout_secs` as a duration.
    pub fn lookup_timeout(&self) -> Duration {
        Duration::from_secs(self.lookup_timeout_secs)
    }

    /// `shutdown_timeout_secs` as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

/// Cache behaviour (`[cache]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long a confirmed TXT id stays good before the record is looked
    /// up again (default 300).
    pub txt_check_interval_secs: u64,
    /// Period of the maintenance pass that refreshes policies before they
    /// expire and evicts unused ones (default 900).
    pub refresh_scan_secs: u64,
    /// Largest per-domain delay added to the daily refresh (default 3600).
    pub refresh_jitter_secs: u64,
    /// Entries not used for a delivery for this many days are evicted
    /// (default 180).
    pub evict_after_days: u64,
    /// Cached domains at most (default 100,000); beyond, the entries used
    /// least recently are evicted down to 90 %.
    pub max_entries: usize,
    /// Approximate memory of the cached policies at most, in MiB (default
    /// 256); beyond, as for `max_entries`.
    pub max_size_mib: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            txt_check_interval_secs: 300,
            refresh_scan_secs: 900,
            refresh_jitter_secs: 3600,
            evict_after_days: 180,
            max_entries: 100_000,
            max_size_mib: 256,
        }
    }
}

impl CacheConfig {
    /// `refresh_scan_secs` as a duration.
    pub fn refresh_scan(&self) -> Duration {
        Duration::from_secs(self.refresh_scan_secs)
    }
}

/// A configuration that cannot be used: where (file, line, column when
/// known) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// 1-based line and column of the offending text, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some((line, column)) = self.position {
            write!(f, "line {line}, column {column}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            file: None,
            position: None,
            message: message.into(),
        }
    }
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

impl Config {
    /// Parse and validate TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError {
            file: None,
            position: e.span().map(|s| position(text, s.start)),
            message: e.message().trim_end().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Read, parse and validate the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let with_file = |mut e: ConfigError| {
            e.file = Some(path.to_owned());
            e
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| with_file(ConfigError::invalid(e.to_string())))?;
        Self::from_toml(&text).map_err(with_file)
    }

    /// Check the values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        for (name, v) in [
            ("limits.max_connections", l.max_connections as u64),
            ("limits.max_pipelined", l.max_pipelined as u64),
            ("limits.idle_timeout_secs", l.idle_timeout_secs),
            ("limits.request_timeout_secs", l.request_timeout_secs),
            ("limits.write_timeout_secs", l.write_timeout_secs),
            ("limits.lookup_timeout_secs", l.lookup_timeout_secs),
            ("limits.max_lookups", l.max_lookups as u64),
            ("cache.max_entries", self.cache.max_entries as u64),
            ("cache.max_size_mib", self.cache.max_size_mib as u64),
            ("cache.refresh_scan_secs", self.cache.refresh_scan_secs),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(format!("{name} must be at least 1")));
            }
        }
        let c = &self.cache;
        for (name, secs) in [
            ("limits.idle_timeout_secs", l.idle_timeout_secs),
            ("limits.request_timeout_secs", l.request_timeout_secs),
            ("limits.write_timeout_secs", l.write_timeout_secs),
            ("limits.lookup_timeout_secs", l.lookup_timeout_secs),
            ("limits.shutdown_timeout_secs", l.shutdown_timeout_secs),
            ("cache.txt_check_interval_secs", c.txt_check_interval_secs),
            ("cache.refresh_scan_secs", c.refresh_scan_secs),
            ("cache.refresh_jitter_secs", c.refresh_jitter_secs),
            (
                "cache.evict_after_days",
                c.evict_after_days.saturating_mul(86_400),
            ),
        ] {
            if secs > MAX_DURATION_SECS {
                return Err(ConfigError::invalid(format!(
                    "{name} must not exceed 100 years"
                )));
            }
        }
        if self.state_dir.is_some() && self.database.is_some() {
            return Err(ConfigError::invalid(
                "state_dir and database are both set: the cache is kept in one of them",
            ));
        }
        if self.database_table.is_some() && self.database.is_none() {
            return Err(ConfigError::invalid(
                "database_table is set without database",
            ));
        }
        if self.unix_mode > 0o777 {
            return Err(ConfigError::invalid(format!(
                "unix_mode {:#o} is not a permission mode (at most 0o777)",
                self.unix_mode
            )));
        }
        if self.https_port == Some(0) {
            return Err(ConfigError::invalid("https_port must not be 0"));
        }
        for name in self.zones.keys() {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ConfigError::invalid(format!(
                    "zone name {name:?} cannot be a socketmap name (empty or with white space)"
                )));
            }
        }
        if self.tcp_listeners().is_empty() && self.unix.is_empty() {
            return Err(ConfigError::invalid(
                "nothing to listen on: both listen and unix are empty",
            ));
        }
        Ok(())
    }

    /// The TCP addresses to bind: `listen` if given; otherwise
    /// [`DEFAULT_LISTEN`] when no Unix socket is configured, else none.
    pub fn tcp_listeners(&self) -> Vec<SocketAddr> {
        match &self.listen {
            Some(l) => l.clone(),
            None if self.unix.is_empty() => DEFAULT_LISTEN.parse().into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// The settings of socketmap name `name`: its `[zones.NAME]` table, or
    /// `default_zone`.
    pub fn zone(&self, name: &str) -> ZoneSettings {
        self.zones.get(name).copied().unwrap_or(self.default_zone)
    }

    /// The network overrides (`resolver`, `ca_file`, `https_port`).
    pub fn overrides(&self) -> Overrides {
        Overrides {
            resolver: self.resolver,
            ca_file: self.ca_file.clone(),
            extra_ca_file: self.extra_ca_file.clone(),
            https_port: self.https_port,
            smtp_port: None,
        }
    }

    /// The policy service settings (`strict` and `[cache]`).
    pub fn service_settings(&self) -> Settings {
        Settings {
            strict: self.strict,
            txt_check_interval: Duration::from_secs(self.cache.txt_check_interval_secs),
            refresh_jitter: Duration::from_secs(self.cache.refresh_jitter_secs),
            evict_after: Duration::from_secs(self.cache.evict_after_days.saturating_mul(86_400)),
            max_discoveries: self.limits.max_lookups,
            max_waiting: self.limits.max_waiting_lookups,
            max_entries: self.cache.max_entries,
            max_bytes: self.cache.max_size_mib.saturating_mul(1 << 20),
        }
    }

    /// The policy store path, if there is a state directory.
    pub fn store_path(&self) -> Option<PathBuf> {
        self.state_dir.as_ref().map(|d| d.join(STORE_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.tcp_listeners(), vec![DEFAULT_LISTEN.parse().unwrap()]);
        assert_eq!(c.zone("anything"), ZoneSettings::default());
        assert!(c.default_zone.require_sni);
        assert_eq!(
            c.service_settings().evict_after,
            Duration::from_secs(180 * 86_400)
        );
        assert_eq!(c.store_path(), None);
    }

    #[test]
    fn full_file() {
        let c = Config::from_toml(
            r#"
listen = ["127.0.0.1:1", "[::1]:2"]
unix = ["/tmp/x.sock"]
unix_mode = 0o666
state_dir = "/var/lib/mtasts"
strict = true
resolver = "127.0.0.1:53"
ca_file = "ca.pem"
https_port = 8443
metrics = "127.0.0.1:9464"
[limits]
max_connections = 5
max_pipelined = 2
idle_timeout_secs = 7
request_timeout_secs = 3
write_timeout_secs = 4
lookup_timeout_secs = 8
max_lookups = 9
max_waiting_lookups = 0
shutdown_timeout_secs = 0
[cache]
txt_check_interval_secs = 1
refresh_scan_secs = 2
refresh_jitter_secs = 0
evict_after_days = 4
max_entries = 5
max_size_mib = 2
[default_zone]
require_sni = false
[zones.test]
strict_testing = true
[zones.tls]
tlsrpt = true
"#,
        )
        .unwrap();
        assert_eq!(c.tcp_listeners().len(), 2);
        assert_eq!(c.unix_mode, 0o666);
        assert_eq!(
            c.store_path().unwrap(),
            Path::new("/var/lib/mtasts/policies.redb")
        );
        assert_eq!(
            c.zone("test"),
            ZoneSettings {
                strict_testing: true,
                require_sni: true,
                tlsrpt: false
            }
        );
        assert!(c.zone("tls").tlsrpt && c.zone("tls").require_sni);
        assert!(!c.zone("other").require_sni);
        let o = c.overrides();
        assert_eq!(o.https_port, Some(8443));
        assert_eq!(c.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(o.ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert!(c.service_settings().strict);
        assert_eq!(c.limits.lookup_timeout(), Duration::from_secs(8));
        assert_eq!(c.limits.request_timeout(), Duration::from_secs(3));
        assert_eq!(c.limits.write_timeout(), Duration::from_secs(4));
        assert_eq!(c.service_settings().max_discoveries, 9);
        assert_eq!(c.service_settings().max_waiting, 0);
        assert_eq!(c.service_settings().max_entries, 5);
        assert_eq!(c.service_settings().max_bytes, 2 << 20);
    }

    #[test]
    fn listen_default_rule() {
        let c = Config::from_toml("unix = [\"/tmp/a\"]").unwrap();
        assert!(c.tcp_listeners().is_empty());
        let c = Config::from_toml("unix = [\"/tmp/a\"]\nlisten = [\"127.0.0.1:9\"]").unwrap();
        assert_eq!(c.tcp_listeners().len(), 1);
        let e = Config::from_toml("listen = []").unwrap_err();
        assert!(e.message.contains("nothing to listen on"), "{e}");
    }

    #[test]
    fn errors_name_the_line() {
        let e =
            Config::from_toml("strict = true\n\n[zones.x]\nrequire_snii = false\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(4), "{e}");
        assert!(e.to_string().starts_with("line 4, column 1: "), "{e}");
        assert!(e.message.contains("require_snii"), "{e}");

        let e = Config::from_toml("listen = [\"localhost:25\"]").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(1), "{e}");

        let e = Config::from_toml("bogus = 1").unwrap_err();
        assert!(e.message.contains("bogus"), "{e}");

        let e = Config::from_toml("[limits]\nmax_connections = 0").unwrap_err();
        assert!(e.message.contains("limits.max_connections"), "{e}");
        let e = Config::from_toml("unix_mode = 0o1777").unwrap_err();
        assert!(e.message.contains("unix_mode"), "{e}");
        let e = Config::from_toml("[zones.\"a b\"]").unwrap_err();
        assert!(e.message.contains("zone name"), "{e}");
        // Caught by the `daemon_config` fuzz target: these were accepted, and
        // the daemon panicked adding them to the current time.
        for (text, name) in [
            (
                "[limits]\nlookup_timeout_secs = 9223372036854775807",
                "limits.lookup_timeout_secs",
            ),
            (
                "[limits]\nshutdown_timeout_secs = 3153600001",
                "limits.shutdown_timeout_secs",
            ),
            (
                "[cache]\nevict_after_days = 9223372036854775807",
                "cache.evict_after_days",
            ),
        ] {
            let e = Config::from_toml(text).unwrap_err();
            assert!(e.message.contains(name), "{e}");
        }
        let c = Config::from_toml("[cache]\nevict_after_days = 36500").unwrap();
        assert_eq!(c.cache.evict_after_days * 86_400, MAX_DURATION_SECS);
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("pf-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.toml");
        std::fs::write(&p, "x = 1\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}: line 1", p.display())),
            "{e}"
        );
        let e = Config::load(&dir.join("missing.toml")).unwrap_err();
        assert!(e.to_string().contains("missing.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../examples/daemon.toml");
        let c = Config::from_toml(text).unwrap();
        assert!(c.zones.contains_key("postfix"));
    }
}
