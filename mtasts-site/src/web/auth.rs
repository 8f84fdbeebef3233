//! Login tokens, sessions, CSRF tokens and the login rate limit.
//!
//! - **Tokens** (`mtasts user add|token`): `ID.SECRET`, `ID` 12 random
//!   bytes and `SECRET` 32 random bytes from *ring*'s `SystemRandom`,
//!   both base64url without padding. The store keeps `ID` (indexed: a
//!   lookup needs no scan) and the argon2id PHC string of `SECRET`
//!   (argon2's default parameters: 19 MiB, 2 passes). The token is shown
//!   once.
//! - **Verified-token cache**: argon2 is slow on purpose, so a token
//!   that verified is remembered for [`TOKEN_CACHE_TTL`] keyed by the
//!   SHA-256 of the whole token, with the PHC string it verified
//!   against. Each request still reads the account by `ID` (one indexed
//!   query) and uses the cache only while the stored PHC string is the
//!   same: `mtasts user token` and `user remove` take effect at once on
//!   every node. At most [`TOKEN_CACHE_MAX`] entries.
//! - **Sessions** (web login): the cookie holds 32 random bytes
//!   (base64url); the store keeps their SHA-256 (hex), the account, the
//!   CSRF token of the session and the expiry ([`SESSION_TTL`]).
//! - **CSRF**: every POST of a signed-in page carries the session's
//!   token (`csrf` form field, a synchronizer token compared in constant
//!   time); the login form, before a session exists, carries the value
//!   of a `mtasts_login` cookie set with the form (double submit).
//! - **Login rate limit**: at most [`LOGIN_FAILURES`] failed logins per
//!   client IP per minute; more answer `429` (a process-local window;
//!   at most [`LIMITER_MAX_IPS`] addresses are tracked).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use super::Account;
use super::users::User;

/// How long a verified token is remembered.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(300);

/// Verified tokens remembered at most.
pub const TOKEN_CACHE_MAX: usize = 10_000;

/// How long a web session lasts (seconds).
pub const SESSION_TTL: i64 = 12 * 3600;

/// Failed logins per client IP per minute before `429`.
pub const LOGIN_FAILURES: usize = 5;

/// Client addresses the login limiter tracks at most.
pub const LIMITER_MAX_IPS: usize = 10_000;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mtasts_session";

/// The login form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "mtasts_login";

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The system's random source failed.
    #[error("the system's random number generator failed")]
    Random,
    /// argon2 failed to hash.
    #[error("argon2: {0}")]
    Hash(String),
}

/// `n` random bytes, base64url.
///
/// # Errors
///
/// [`TokenError::Random`].
pub fn random_b64(n: usize) -> Result<String, TokenError> {
    let mut b = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| TokenError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// A new login token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// `ID.SECRET`: shown once.
    pub token: String,
    /// The `ID` (stored).
    pub id: String,
    /// The argon2id PHC string of the secret (stored).
    pub hash: String,
}

/// Make a new login token.
///
/// # Errors
///
/// [`TokenError`].
pub fn new_token() -> Result<NewToken, TokenError> {
    let id = random_b64(12)?;
    let secret = random_b64(32)?;
    let hash = hash_secret(&secret)?;
    Ok(NewToken {
        token: format!("{id}.{secret}"),
        id,
        hash,
    })
}

/// The argon2id PHC string of `secret` (random salt).
///
/// # Errors
///
/// [`TokenError`].
pub fn hash_secret(secret: &str) -> Result<String, TokenError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| TokenError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| TokenError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| TokenError::Hash(e.to_string()))
}

/// Whether `secret` matches the PHC string `phc`.
#[must_use]
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// `ID` and `SECRET` of a token of the right shape.
#[must_use]
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(id, 16) && ok(secret, 43)).then_some((id, secret))
}

/// The SHA-256 of `s`.
#[must_use]
pub fn sha256(s: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The SHA-256 of `s` in lower-case hex (session ids as stored).
#[must_use]
pub fn sha256_hex(s: &str) -> String {
    sha256(s).iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal, in time independent of where they differ.
#[must_use]
pub fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The account view of a stored user.
#[must_use]
pub fn account_of(u: &User) -> Account {
    Account {
        user: u.name.clone(),
        admin: u.admin,
        domains: u.domains.clone(),
    }
}

/// Tokens that verified recently (see the module docs).
#[derive(Debug, Default)]
pub struct TokenCache {
    map: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

impl TokenCache {
    /// Whether `token` verified against `phc` less than
    /// [`TOKEN_CACHE_TTL`] ago.
    #[must_use]
    pub fn hit(&self, token: &str, phc: &str) -> bool {
        self.hit_at(token, phc, Instant::now())
    }

    /// [`TokenCache::hit`] at `now` (a parameter for the tests).
    fn hit_at(&self, token: &str, phc: &str, now: Instant) -> bool {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&sha256(token))
            .is_some_and(|(p, at)| p == phc && now.saturating_duration_since(*at) < TOKEN_CACHE_TTL)
    }

    /// Remember that `token` verified against `phc`.
    pub fn insert(&self, token: &str, phc: &str) {
        self.insert_at(token, phc, Instant::now());
    }

    /// [`TokenCache::insert`] at `now` (a parameter for the tests).
    fn insert_at(&self, token: &str, phc: &str, now: Instant) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= TOKEN_CACHE_MAX {
            map.retain(|_, (_, at)| now.saturating_duration_since(*at) < TOKEN_CACHE_TTL);
            if map.len() >= TOKEN_CACHE_MAX {
                map.clear();
            }
        }
        map.insert(sha256(token), (phc.to_owned(), now));
    }
}

/// Failed logins per client address (see the module docs).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    map: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl LoginLimiter {
    /// Whether `ip` has used up its failures of the last minute.
    #[must_use]
    pub fn blocked(&self, ip: IpAddr) -> bool {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get_mut(&ip).is_some_and(|v| {
            v.retain(|t| t.elapsed() < Duration::from_secs(60));
            v.len() >= LOGIN_FAILURES
        })
    }

    /// Count a failed login of `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= LIMITER_MAX_IPS && !map.contains_key(&ip) {
            map.retain(|_, v| {
                v.retain(|t| t.elapsed() < Duration::from_secs(60));
                !v.is_empty()
            });
            if map.len() >= LIMITER_MAX_IPS {
                return;
            }
        }
        let v = map.entry(ip).or_default();
        v.retain(|t| t.elapsed() < Duration::from_secs(60));
        v.push(Instant::now());
    }
}

/// The value of cookie `name` in a `Cookie` header.
#[must_use]
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value with the attributes every cookie of the site
/// has: `HttpOnly; Secure; SameSite=Strict; Path=/`.
#[must_use]
pub fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_split() {
        let t = new_token().unwrap();
        let (id, secret) = split_token(&t.token).unwrap();
        assert_eq!(id, t.id);
        assert!(verify_secret(secret, &t.hash));
        assert!(!verify_secret("x", &t.hash));
        assert!(split_token("abc").is_none());
        assert!(split_token(&format!("{id}.{secret}x")).is_none());
        assert!(constant_eq("abc", "abc") && !constant_eq("abc", "abd"));
        assert_eq!(cookie("a=1; mtasts_session=xy", SESSION_COOKIE), Some("xy"));
    }

    #[test]
    fn limiter_blocks_after_five_failures() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..LOGIN_FAILURES {
            assert!(!l.blocked(ip));
            l.failed(ip);
        }
        assert!(l.blocked(ip));
        assert!(!l.blocked("192.0.2.2".parse().unwrap()));
    }

    fn cached(c: &TokenCache) -> usize {
        c.map.lock().unwrap().len()
    }

    #[test]
    fn verified_tokens_are_cached_for_five_minutes() {
        assert_eq!(TOKEN_CACHE_TTL, Duration::from_secs(300));
        let c = TokenCache::default();
        let t0 = Instant::now();
        c.insert_at("id.secret", "phc1", t0);
        assert!(c.hit_at("id.secret", "phc1", t0));
        let just_before = t0 + TOKEN_CACHE_TTL - Duration::from_millis(1);
        assert!(c.hit_at("id.secret", "phc1", just_before));
        // At the TTL the token must be verified again.
        assert!(!c.hit_at("id.secret", "phc1", t0 + TOKEN_CACHE_TTL));
        // Another stored hash (a new token): no hit, at once.
        assert!(!c.hit_at("id.secret", "phc2", t0));
        assert!(!c.hit_at("other.secret", "phc1", t0));
        // The real clock: just inserted is a hit.
        c.insert("id.now", "phc");
        assert!(c.hit("id.now", "phc"));
    }

    #[test]
    fn the_token_cache_holds_at_most_10000_entries() {
        assert_eq!(TOKEN_CACHE_MAX, 10_000);
        let c = TokenCache::default();
        let t0 = Instant::now();
        // Half inserted at t0, half a minute later.
        let later = t0 + Duration::from_secs(60);
        for i in 0..TOKEN_CACHE_MAX {
            let at = if i < TOKEN_CACHE_MAX / 2 { t0 } else { later };
            c.insert_at(&format!("t{i}"), "phc", at);
        }
        assert_eq!(cached(&c), TOKEN_CACHE_MAX);
        assert!(c.hit_at("t0", "phc", later) && c.hit_at("t9999", "phc", later));
        // Full, when the first half has expired: those are dropped.
        let expired = t0 + TOKEN_CACHE_TTL;
        c.insert_at("new", "phc", expired);
        assert_eq!(cached(&c), TOKEN_CACHE_MAX / 2 + 1);
        assert!(!c.hit_at("t0", "phc", expired));
        assert!(c.hit_at("t9999", "phc", expired) && c.hit_at("new", "phc", expired));
        // Full of live entries: emptied, then the new one kept.
        for i in 0..TOKEN_CACHE_MAX / 2 - 1 {
            c.insert_at(&format!("u{i}"), "phc", expired);
        }
        assert_eq!(cached(&c), TOKEN_CACHE_MAX);
        c.insert_at("last", "phc", expired);
        assert_eq!(cached(&c), 1);
        assert!(c.hit_at("last", "phc", expired));
        assert!(!c.hit_at("new", "phc", expired));
    }
}
