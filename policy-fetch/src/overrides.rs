//! Overrides for tests and private deployments, shared by `mtasts check`
//! and `mtasts daemon`: the only DNS server to use, the trust anchors to
//! use instead of the system's, and the ports for HTTPS policy fetches and
//! SMTP probes.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::dns::Dns;
use crate::error::FetchError;
use crate::https::{FetchConfig, PolicyClient, Roots};

/// Network overrides (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// The only DNS server used (`IP:PORT`); default: the system's.
    pub resolver: Option<SocketAddr>,
    /// A PEM file of trust anchors used instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// A PEM file of trust anchors added to the system's (ignored when
    /// `ca_file` is set).
    pub extra_ca_file: Option<PathBuf>,
    /// The port for every `https://mta-sts.<domain>/` fetch (SNI and
    /// `Host` unchanged); default 443.
    pub https_port: Option<u16>,
    /// The port for every MX probe; default 25.
    pub smtp_port: Option<u16>,
}

impl Overrides {
    /// The DNS resolver these overrides select.
    pub fn dns(&self) -> Result<Dns, FetchError> {
        match self.resolver {
            Some(addr) => Dns::with_server(addr),
            None => Dns::system(),
        }
    }

    /// The trust anchors: the CA file's certificates only, or the system's
    /// plus the extra file's.
    pub fn roots(&self) -> Result<Roots, FetchError> {
        match &self.ca_file {
            Some(path) => {
                let mut r = Roots::empty();
                r.add_pem_file(path)?;
                Ok(r)
            }
            None => {
                let mut r = Roots::system();
                if let Some(extra) = &self.extra_ca_file {
                    r.add_pem_file(extra)?;
                }
                Ok(r)
            }
        }
    }

    /// The fetch settings (default timeouts and limits, overridden port).
    pub fn fetch_config(&self) -> FetchConfig {
        FetchConfig {
            port: self.https_port.unwrap_or(443),
            ..FetchConfig::default()
        }
    }

    /// The SMTP port for MX probes.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port.unwrap_or(25)
    }

    /// A policy client built from these overrides.
    pub fn policy_client(&self, dns: Dns) -> Result<PolicyClient, FetchError> {
        PolicyClient::new(dns, &self.roots()?, self.fetch_config())
    }
}
