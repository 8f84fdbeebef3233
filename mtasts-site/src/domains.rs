//! Add, change and remove hosted domains: the operations `mtasts domain`
//! and the server share. Pure logic over a [`SiteStore`]; the time is
//! passed in (Unix seconds).
//!
//! # Policy ids and when a new one is shown
//!
//! Every change of the served body makes a new policy version with a new
//! id ([`mta_sts_core::hosting::policy_id`]: the UTC time and the version
//! number, digits only, increasing per domain); a change that leaves the
//! body as it was keeps the id. Serving nodes poll the store's
//! generation every second, so a new body is served by every node within
//! [`PROPAGATION_SECS`]. The id to publish in DNS (the *published* id of
//! [`show`] and [`records`]) is therefore the newest version at least
//! [`PROPAGATION_SECS`] old; a newer one is reported as *pending* with
//! the time from which to publish it. A sender that sees the new id thus
//! always fetches the new body. A domain's first version is published at
//! once (nothing is cached anywhere yet).
//!
//! # Removal (RFC 8461 section 8.3)
//!
//! [`remove`] publishes `mode: none` with the old `max_age` and keeps
//! serving it until every cached copy of the old policy has expired
//! ([`mta_sts_core::hosting::removal_deadline`]); the server deletes the
//! domain afterwards ([`SiteStore::purge_removed`]). [`remove_now`]
//! deletes at once.

use std::net::IpAddr;

use mta_sts_core::finding::Severity;
use mta_sts_core::hosting::{self, DnsRecord};
use mta_sts_core::lint::{Finding, LintCode};
use mta_sts_core::policy::LineEnding;
use mta_sts_core::{Mode, MxPattern, Policy};

use crate::store::{Domain, DomainSettings, NewPolicy, PolicyVersion, SiteStore, StoreError};

/// Seconds within which every serving node serves a new body (they poll
/// the generation every second; the rest is margin).
pub const PROPAGATION_SECS: i64 = 5;

/// The site setting naming the hosting name the `mta-sts` CNAMEs point
/// at.
pub const SETTING_TARGET: &str = "target";

/// The site setting listing the serving nodes' addresses
/// (comma-separated IPs).
pub const SETTING_ADDRESSES: &str = "addresses";

/// Most `mx` patterns or `rua` URIs accepted for one domain.
pub const MAX_LIST: usize = 100;

/// Why a domain operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The domain name is not valid.
    #[error(transparent)]
    InvalidName(#[from] mta_sts_core::domain::DomainError),
    /// An `mx` pattern is not valid.
    #[error("{domain}: invalid mx pattern `{pattern}`")]
    InvalidMx {
        /// The domain.
        domain: String,
        /// The pattern as given.
        pattern: String,
        /// Why.
        #[source]
        source: mta_sts_core::MxError,
    },
    /// The policy cannot be built from the settings.
    #[error("{domain}: invalid policy")]
    InvalidPolicy {
        /// The domain.
        domain: String,
        /// Why.
        #[source]
        source: mta_sts_core::PolicyError,
    },
    /// The lint found errors in the policy (it would not work).
    #[error("{domain}: the policy would not work: {}", messages(.findings))]
    Lint {
        /// The domain.
        domain: String,
        /// The error findings.
        findings: Vec<Finding>,
    },
    /// A `rua` URI is not usable.
    #[error("{domain}: rua `{uri}`: {reason}")]
    InvalidRua {
        /// The domain.
        domain: String,
        /// The URI as given.
        uri: String,
        /// Why.
        reason: String,
    },
    /// Too many `mx` patterns or `rua` URIs.
    #[error("{domain}: more than {MAX_LIST} {what}")]
    TooMany {
        /// The domain.
        domain: String,
        /// `mx patterns` or `rua URIs`.
        what: &'static str,
    },
    /// `add` without any `mx` pattern while the mode needs them.
    #[error("{domain}: mode {mode} needs at least one --mx pattern")]
    NoMx {
        /// The domain.
        domain: String,
        /// The mode.
        mode: Mode,
    },
    /// A host name setting (`--target`) is not valid.
    #[error("invalid target `{input}`")]
    InvalidTarget {
        /// The value given.
        input: String,
        /// Why.
        #[source]
        source: mta_sts_core::domain::DomainError,
    },
    /// `records` without a target given or configured.
    #[error(
        "no CNAME target: give --target HOST or configure one with `mtasts domain configure --target HOST`"
    )]
    NoTarget,
    /// The stored `addresses` setting is not a list of IPs.
    #[error("site setting `addresses` holds `{value}`, not comma-separated IP addresses")]
    BadAddresses {
        /// The stored value.
        value: String,
    },
    /// The store failed, or the domain is not hosted / already hosted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn messages(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} ({}; fix: {})",
                f.message,
                f.code.as_str(),
                f.remediation
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What `add` needs besides the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// The `mx` patterns (at least one unless the mode is `none`).
    pub mx: Vec<String>,
    /// The mode; `testing` when `None`.
    pub mode: Option<Mode>,
    /// The `max_age`; [`hosting::DEFAULT_MAX_AGE`] when `None`.
    pub max_age: Option<u64>,
    /// The `rua` URIs; [`hosting::default_rua`] when empty.
    pub rua: Vec<String>,
}

/// What `set` changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// A new mode.
    pub mode: Option<Mode>,
    /// New `mx` patterns (replacing all).
    pub mx: Option<Vec<String>>,
    /// A new `max_age`.
    pub max_age: Option<u64>,
    /// New `rua` URIs (replacing all; an empty list means the default).
    pub rua: Option<Vec<String>>,
}

/// The result of `add` and `set`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// The domain as stored.
    pub domain: Domain,
    /// Whether a new policy version (new id) was made.
    pub changed: bool,
    /// Lint warnings about the policy (not errors: those refuse).
    pub warnings: Vec<Finding>,
    /// For `set`: a removal in progress that this change cancelled.
    pub cancelled_removal: bool,
}

/// A newer id not yet to be published in DNS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// The new id.
    pub policy_id: String,
    /// Its version.
    pub version: u64,
    /// From when it is served everywhere and may be published (Unix
    /// seconds).
    pub publish_from: i64,
}

/// What `show` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shown {
    /// The domain as stored (with the newest body).
    pub domain: Domain,
    /// Every version, oldest first.
    pub history: Vec<PolicyVersion>,
    /// The version whose id to publish now.
    pub published: PolicyVersion,
    /// A newer version, served within seconds, not yet to be published.
    pub pending: Option<Pending>,
    /// Whole days in the current mode.
    pub days_in_mode: u64,
}

/// What `records` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Records {
    /// The domain.
    pub domain: String,
    /// The three records to publish.
    pub records: Vec<DnsRecord>,
    /// The id in the `_mta-sts` record.
    pub policy_id: String,
    /// A newer id to publish later.
    pub pending: Option<Pending>,
}

/// The site settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SiteConfig {
    /// The hosting name the `mta-sts` CNAMEs point at.
    pub target: Option<String>,
    /// The serving nodes' addresses.
    pub addresses: Vec<IpAddr>,
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Removal {
    /// The domain as stored (serving `mode: none`).
    pub domain: Domain,
    /// Until when `mode: none` is served; the domain is deleted after.
    pub until: i64,
}

/// Validate and normalize the settings; render the body (CRLF line
/// endings). Returns the normalized settings, the body and the lint
/// warnings. In mode `none` the body has no `mx` lines (the settings
/// keep them for a later change of mode).
///
/// # Errors
///
/// [`DomainError`] on an invalid pattern, `rua`, `max_age` or a lint
/// error.
pub fn render(
    domain: &str,
    settings: &DomainSettings,
) -> Result<(DomainSettings, String, Vec<Finding>), DomainError> {
    let err_domain = || domain.to_owned();
    if settings.mx.len() > MAX_LIST {
        return Err(DomainError::TooMany {
            domain: err_domain(),
            what: "mx patterns",
        });
    }
    if settings.rua.len() > MAX_LIST {
        return Err(DomainError::TooMany {
            domain: err_domain(),
            what: "rua URIs",
        });
    }
    let mut mx = Vec::with_capacity(settings.mx.len());
    for p in &settings.mx {
        let pat = MxPattern::from_user(p).map_err(|source| DomainError::InvalidMx {
            domain: err_domain(),
            pattern: p.clone(),
            source,
        })?;
        // A-labels, lower case: names are compared without case.
        mx.push(pat.as_str().to_ascii_lowercase());
    }
    if mx.is_empty() && settings.mode != Mode::None {
        return Err(DomainError::NoMx {
            domain: err_domain(),
            mode: settings.mode,
        });
    }
    let rua = if settings.rua.is_empty() {
        vec![hosting::default_rua(domain)]
    } else {
        settings.rua.clone()
    };
    check_rua(domain, &rua)?;
    let mut b = Policy::builder()
        .mode(settings.mode)
        .max_age(settings.max_age);
    if settings.mode != Mode::None {
        for p in &mx {
            b = b.mx(p.clone());
        }
    }
    let policy = b.build().map_err(|source| DomainError::InvalidPolicy {
        domain: err_domain(),
        source,
    })?;
    let findings = policy.lint();
    let (errors, warnings): (Vec<_>, Vec<_>) = findings
        .into_iter()
        .filter(|f| !matches!(f.code, LintCode::TestingMode | LintCode::NoneMode))
        .partition(|f| f.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(DomainError::Lint {
            domain: err_domain(),
            findings: errors,
        });
    }
    let warnings = warnings
        .into_iter()
        .filter(|f| f.severity == Severity::Warning)
        .collect();
    let normalized = DomainSettings {
        mode: settings.mode,
        mx,
        max_age: settings.max_age,
        rua,
    };
    Ok((
        normalized,
        policy.to_string_with(LineEnding::CrLf),
        warnings,
    ))
}

/// The [`NewPolicy`] for stored (already normalized) `settings`, for a
/// caller that changes one setting of a [`Domain`] (as `promote` does)
/// and then calls [`SiteStore::update_domain`]. `removing_until` is
/// `None` (the change cancels a removal).
///
/// # Errors
///
/// As [`render`]; the `rua` list must not be empty (stored settings
/// never have it empty).
pub fn new_policy(settings: DomainSettings) -> Result<NewPolicy, DomainError> {
    let label = settings
        .rua
        .first()
        .and_then(|r| r.rsplit_once('@'))
        .map_or("the domain", |(_, d)| d);
    let (settings, body, _) = render(label, &settings)?;
    Ok(NewPolicy {
        settings,
        body,
        removing_until: None,
    })
}

/// Each `rua` must be a usable `mailto:` or `https:` URI (RFC 8460).
fn check_rua(domain: &str, rua: &[String]) -> Result<(), DomainError> {
    for uri in rua {
        let bad = |reason: &str| DomainError::InvalidRua {
            domain: domain.to_owned(),
            uri: uri.clone(),
            reason: reason.to_owned(),
        };
        if uri.is_empty() || uri.len() > 1000 {
            return Err(bad("must be 1 to 1000 characters"));
        }
        if uri
            .chars()
            .any(|c| c == ',' || c == ';' || c == '!' || c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                "has a comma, semicolon, `!`, space or control character (give each URI on its own)",
            ));
        }
        let text = format!("{}; rua={uri}", tlsrpt_core::record::TLSRPT_VERSION_TAG);
        let rec = tlsrpt_core::TlsRptRecord::parse(&text).map_err(|e| bad(&e.to_string()))?;
        for r in rec.rua() {
            if let tlsrpt_core::record::RuaKind::Unsupported { reason } = r.kind {
                return Err(bad(&format!("{reason} (use mailto: or https:)")));
            }
        }
    }
    Ok(())
}

fn normalize(name: &str) -> Result<String, DomainError> {
    Ok(mta_sts_core::domain::normalize(name)?)
}

/// Host a new domain. Defaults: mode `testing`, `max_age`
/// [`hosting::DEFAULT_MAX_AGE`], `rua` [`hosting::default_rua`].
///
/// # Errors
///
/// [`DomainError`] on invalid input (with the lint message), or
/// [`StoreError::Exists`] when already hosted.
pub fn add(
    store: &dyn SiteStore,
    name: &str,
    opts: &AddOptions,
    now: i64,
) -> Result<Outcome, DomainError> {
    let name = normalize(name)?;
    let settings = DomainSettings {
        mode: opts.mode.unwrap_or(Mode::Testing),
        mx: opts.mx.clone(),
        max_age: opts.max_age.unwrap_or(hosting::DEFAULT_MAX_AGE),
        rua: opts.rua.clone(),
    };
    let (settings, body, warnings) = render(&name, &settings)?;
    let new = NewPolicy {
        settings,
        body,
        removing_until: None,
    };
    let domain = store.add_domain(&name, &new, now)?;
    Ok(Outcome {
        domain,
        changed: true,
        warnings,
        cancelled_removal: false,
    })
}

/// Change a hosted domain's settings; a new id when the body changes.
/// A domain being removed stays being removed unless the change sets
/// mode `testing` or `enforce`, which cancels the removal.
///
/// # Errors
///
/// [`DomainError`] on invalid input, or [`StoreError::NotFound`].
pub fn set(
    store: &dyn SiteStore,
    name: &str,
    changes: &Changes,
    now: i64,
) -> Result<Outcome, DomainError> {
    let name = normalize(name)?;
    let old = store
        .domain(&name)?
        .ok_or_else(|| StoreError::NotFound(name.clone()))?;
    let mut s = old.settings.clone();
    if let Some(m) = changes.mode {
        s.mode = m;
    }
    if let Some(mx) = &changes.mx {
        s.mx.clone_from(mx);
    }
    if let Some(a) = changes.max_age {
        s.max_age = a;
    }
    if let Some(r) = &changes.rua {
        s.rua.clone_from(r);
    }
    let (settings, body, warnings) = render(&name, &s)?;
    let cancel = old.removing_until.is_some() && settings.mode != Mode::None;
    let removing_until = if cancel { None } else { old.removing_until };
    let new = NewPolicy {
        settings,
        body,
        removing_until,
    };
    let (domain, changed) = store.update_domain(&name, &new, now)?;
    Ok(Outcome {
        domain,
        changed,
        warnings,
        cancelled_removal: cancel,
    })
}

/// Start removing a domain (RFC 8461 section 8.3): serve `mode: none`
/// with the old `max_age` until [`hosting::removal_deadline`] of `now`,
/// the old `max_age` and `grace`. Removing a domain already being
/// removed keeps its deadline.
///
/// # Errors
///
/// [`StoreError::NotFound`] when not hosted, or a store failure.
pub fn remove(
    store: &dyn SiteStore,
    name: &str,
    now: i64,
    grace: u64,
) -> Result<Removal, DomainError> {
    let name = normalize(name)?;
    let old = store
        .domain(&name)?
        .ok_or_else(|| StoreError::NotFound(name.clone()))?;
    if let Some(until) = old.removing_until {
        return Ok(Removal { domain: old, until });
    }
    let until = hosting::removal_deadline(now, old.settings.max_age, grace);
    let mut s = old.settings.clone();
    s.mode = Mode::None;
    let (settings, body, _) = render(&name, &s)?;
    let new = NewPolicy {
        settings,
        body,
        removing_until: Some(until),
    };
    let (domain, _) = store.update_domain(&name, &new, now)?;
    Ok(Removal { domain, until })
}

/// Delete a domain at once (its certificate stays until it expires).
///
/// # Errors
///
/// [`StoreError::NotFound`] when not hosted, or a store failure.
pub fn remove_now(store: &dyn SiteStore, name: &str) -> Result<(), DomainError> {
    let name = normalize(name)?;
    if store.delete_domain(&name)? {
        Ok(())
    } else {
        Err(StoreError::NotFound(name).into())
    }
}

/// The version whose id to publish at `now`, and a pending newer one
/// (see the module docs). `history` is oldest first and not empty.
#[must_use]
pub fn published(history: &[PolicyVersion], now: i64) -> Option<(&PolicyVersion, Option<Pending>)> {
    let newest = history.last()?;
    let cutoff = now.saturating_sub(PROPAGATION_SECS);
    let shown = history
        .iter()
        .rev()
        .find(|v| v.created_at <= cutoff)
        .or_else(|| history.first())?;
    let pending = (shown.version != newest.version).then(|| Pending {
        policy_id: newest.id.clone(),
        version: newest.version,
        publish_from: newest.created_at.saturating_add(PROPAGATION_SECS),
    });
    Some((shown, pending))
}

fn history_of(
    store: &dyn SiteStore,
    name: &str,
) -> Result<(Domain, Vec<PolicyVersion>), DomainError> {
    let domain = store
        .domain(name)?
        .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
    let mut history = store.history(name)?;
    // The history read may be newer than the domain read (another node
    // wrote in between); never report past the domain's current version.
    history.retain(|v| v.version <= domain.current.version);
    if history.is_empty() {
        history.push(domain.current.clone());
    }
    Ok((domain, history))
}

/// A domain, its history, the id to publish and the days in its mode.
///
/// # Errors
///
/// [`StoreError::NotFound`] when not hosted, or a store failure.
pub fn show(store: &dyn SiteStore, name: &str, now: i64) -> Result<Shown, DomainError> {
    let name = normalize(name)?;
    let (domain, history) = history_of(store, &name)?;
    let (shown, pending) = match published(&history, now) {
        Some((v, p)) => (v.clone(), p),
        None => (domain.current.clone(), None),
    };
    let days_in_mode = hosting::days_between(domain.mode_since, now);
    Ok(Shown {
        domain,
        history,
        published: shown,
        pending,
        days_in_mode,
    })
}

/// The DNS records of a hosted domain with the published id; `target`
/// overrides the configured one.
///
/// # Errors
///
/// [`DomainError::NoTarget`] when no target is given or configured,
/// [`StoreError::NotFound`] when not hosted.
pub fn records(
    store: &dyn SiteStore,
    name: &str,
    target: Option<&str>,
    now: i64,
) -> Result<Records, DomainError> {
    let name = normalize(name)?;
    let target = match target {
        Some(t) => normalize_target(t)?,
        None => store
            .setting(SETTING_TARGET)?
            .ok_or(DomainError::NoTarget)?,
    };
    let (domain, history) = history_of(store, &name)?;
    let (id, pending) = match published(&history, now) {
        Some((v, p)) => (v.id.clone(), p),
        None => (domain.current.id.clone(), None),
    };
    let records = hosting::records(&name, &id, &target, &domain.settings.rua);
    Ok(Records {
        domain: name,
        records,
        policy_id: id,
        pending,
    })
}

fn normalize_target(t: &str) -> Result<String, DomainError> {
    mta_sts_core::domain::normalize(t).map_err(|source| DomainError::InvalidTarget {
        input: t.to_owned(),
        source,
    })
}

/// The site settings.
///
/// # Errors
///
/// A store failure, or [`DomainError::BadAddresses`].
pub fn site_config(store: &dyn SiteStore) -> Result<SiteConfig, DomainError> {
    let target = store.setting(SETTING_TARGET)?;
    let addresses = match store.setting(SETTING_ADDRESSES)? {
        None => Vec::new(),
        Some(v) => parse_addresses(&v).ok_or(DomainError::BadAddresses { value: v })?,
    };
    Ok(SiteConfig { target, addresses })
}

fn parse_addresses(v: &str) -> Option<Vec<IpAddr>> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

/// Change the site settings: `target` (normalized host name) and
/// `addresses` when given (an empty list removes the setting). Returns
/// the settings as stored.
///
/// # Errors
///
/// [`DomainError::InvalidTarget`], or a store failure.
pub fn configure(
    store: &dyn SiteStore,
    target: Option<&str>,
    addresses: Option<&[IpAddr]>,
) -> Result<SiteConfig, DomainError> {
    if let Some(t) = target {
        let t = normalize_target(t)?;
        store.set_setting(SETTING_TARGET, Some(&t))?;
    }
    if let Some(a) = addresses {
        if a.is_empty() {
            store.set_setting(SETTING_ADDRESSES, None)?;
        } else {
            let v = a
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            store.set_setting(SETTING_ADDRESSES, Some(&v))?;
        }
    }
    site_config(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: u64, created_at: i64) -> PolicyVersion {
        PolicyVersion {
            version,
            id: hosting::policy_id(created_at, version),
            body: String::new(),
            mode: Mode::Testing,
            created_at,
        }
    }

    #[test]
    fn published_waits_for_propagation() {
        let h = vec![v(1, 100)];
        let (p, pending) = published(&h, 100).unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(pending, None);
        let h = vec![v(1, 100), v(2, 200)];
        let (p, pending) = published(&h, 203).unwrap();
        assert_eq!(p.version, 1);
        let pending = pending.unwrap();
        assert_eq!(pending.version, 2);
        assert_eq!(pending.publish_from, 205);
        let (p, pending) = published(&h, 205).unwrap();
        assert_eq!(p.version, 2);
        assert_eq!(pending, None);
        // Two quick changes after a brand-new add: the first is shown.
        let h = vec![v(1, 100), v(2, 101)];
        assert_eq!(published(&h, 102).unwrap().0.version, 1);
        assert!(published(&[], 0).is_none());
    }

    #[test]
    fn render_crlf_and_defaults() {
        let s = DomainSettings {
            mode: Mode::Testing,
            mx: vec!["MX1.Example.COM".into(), "*.example.net".into()],
            max_age: 3600,
            rua: vec![],
        };
        let (n, body, warnings) = render("example.com", &s).unwrap();
        assert_eq!(
            body,
            "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 3600\r\n"
        );
        assert_eq!(n.rua, ["mailto:tlsrpt@example.com"]);
        assert_eq!(n.mx, ["mx1.example.com", "*.example.net"]);
        assert!(warnings.iter().any(|f| f.code == LintCode::ShortMaxAge));
        let none = DomainSettings {
            mode: Mode::None,
            ..s.clone()
        };
        let (_, body, _) = render("example.com", &none).unwrap();
        assert_eq!(body, "version: STSv1\r\nmode: none\r\nmax_age: 3600\r\n");
        let bad = DomainSettings {
            mx: vec!["*.com".into()],
            ..s.clone()
        };
        assert!(matches!(
            render("example.com", &bad),
            Err(DomainError::Lint { .. })
        ));
        let bad_rua = DomainSettings {
            rua: vec!["ftp://x.example".into()],
            ..s
        };
        let e = render("example.com", &bad_rua).unwrap_err();
        assert!(e.to_string().contains("ftp://x.example"), "{e}");
    }
}
