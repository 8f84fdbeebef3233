//! DKIM verification of report mail (RFC 8460 3: reports sent by mail
//! are DKIM-signed; receivers may ignore unsigned ones), with mail-auth's
//! verifier through hickory-resolver, and a warm cache of key records.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, Txt};

use super::store::{DkimStatus, DkimVerdict};

/// Key records kept at most this many (the cache is emptied when full).
pub const MAX_CACHED_KEYS: usize = 10_000;

/// Why the verifier could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("DKIM resolver: {0}")]
pub struct DkimSetupError(String);

/// A TXT cache for mail-auth ([`mail_auth::ResolverCache`]): key records
/// kept until their TTL runs out, at most [`MAX_CACHED_KEYS`].
#[derive(Default)]
pub struct TxtCache {
    entries: Mutex<HashMap<Box<str>, (Txt, Instant)>>,
}

impl std::fmt::Debug for TxtCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxtCache").finish_non_exhaustive()
    }
}

impl TxtCache {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, (Txt, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl mail_auth::ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let mut map = self.map();
        match map.get(name) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.map().remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: Box<str>, value: Txt, valid_until: Instant) {
        let mut map = self.map();
        if map.len() >= MAX_CACHED_KEYS && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, (value, valid_until));
    }
}

/// Verifies the DKIM signatures of report mail.
pub struct DkimVerifier {
    auth: MessageAuthenticator,
    cache: TxtCache,
}

impl std::fmt::Debug for DkimVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimVerifier").finish_non_exhaustive()
    }
}

impl DkimVerifier {
    /// A verifier asking only `resolver` (UDP and TCP, 2 s timeout, two
    /// attempts), or the system's resolvers when `None`.
    ///
    /// # Errors
    ///
    /// [`DkimSetupError`] when the system's resolver configuration cannot
    /// be read.
    pub fn new(resolver: Option<SocketAddr>) -> Result<Self, DkimSetupError> {
        let auth = match resolver {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                let mut opts = ResolverOpts::default();
                opts.timeout = Duration::from_secs(2);
                opts.attempts = 2;
                MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![ns]), opts)
            }
            None => MessageAuthenticator::new_system_conf(),
        }
        .map_err(|e| DkimSetupError(e.to_string()))?;
        Ok(Self {
            auth,
            cache: TxtCache::default(),
        })
    }

    /// The verdict on `message` (a whole RFC 5322 message; an mbox `From `
    /// line before it is skipped): `pass` with the `d=` of the first
    /// signature that verifies, `fail` with the `d=` of the first
    /// signature when none verifies (a key that cannot be fetched
    /// counts as not verified), `none` without signatures or when the
    /// message cannot be parsed as mail.
    pub async fn verify(&self, message: &[u8]) -> DkimVerdict {
        self.verify_detailed(message).await.0
    }

    /// [`DkimVerifier::verify`], and whether a `fail` is only temporary:
    /// no signature verified and every one failed for a DNS error that
    /// may pass (a timeout, SERVFAIL), so retrying later may give `pass`.
    pub async fn verify_detailed(&self, message: &[u8]) -> (DkimVerdict, bool) {
        let message = if message.starts_with(b"From ") {
            message
                .iter()
                .position(|&c| c == b'\n')
                .map_or(&message[..0], |i| &message[i + 1..])
        } else {
            message
        };
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            return (DkimVerdict::none(), false);
        };
        let outputs = self
            .auth
            .verify_dkim(Parameters::new(&parsed).with_txt_cache(&self.cache))
            .await;
        if outputs.is_empty() {
            return (DkimVerdict::none(), false);
        }
        if let Some(pass) = outputs.iter().find(|o| *o.result() == DkimResult::Pass) {
            return (
                DkimVerdict {
                    status: DkimStatus::Pass,
                    domain: pass.signature().map(|s| s.d.to_ascii_lowercase()),
                },
                false,
            );
        }
        let temporary = outputs
            .iter()
            .all(|o| matches!(o.result(), DkimResult::TempError(_)));
        for o in &outputs {
            tracing::debug!(result = ?o.result(), "DKIM signature not verified");
        }
        (
            DkimVerdict {
                status: DkimStatus::Fail,
                domain: outputs
                    .iter()
                    .find_map(|o| o.signature())
                    .map(|s| s.d.to_ascii_lowercase()),
            },
            temporary,
        )
    }
}
