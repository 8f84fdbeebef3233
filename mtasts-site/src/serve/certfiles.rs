//! Certificates for `serve`: a PEM chain and key (made into a rustls
//! `CertifiedKey` by [`crate::pem`]) with the leaf's notAfter and names,
//! and `--cert-dir DIR` laid out as certbot's `live/`
//! (`DIR/<host>/fullchain.pem` and `DIR/<host>/privkey.pem`), re-read
//! when a file's modification time or size changes.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::sign::CertifiedKey;
use rustls_pki_types::CertificateDer;

use crate::pem::{PemError, certified_key_from_pem};

/// The largest certificate chain or key file read (the limits of
/// [`crate::pem`] then apply).
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

/// The chain file of a certbot `live/<host>/` directory.
pub const CHAIN_FILE: &str = "fullchain.pem";

/// The key file of a certbot `live/<host>/` directory.
pub const KEY_FILE: &str = "privkey.pem";

/// Why a certificate could not be loaded (the message does not repeat
/// the source error; print the chain).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertFileError {
    /// A file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_PEM_FILE`].
    #[error("{path}: larger than {MAX_PEM_FILE} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A file is not UTF-8 text.
    #[error("{path}: not PEM text")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The chain or key is not usable.
    #[error("{what}")]
    Pem {
        /// Which files or value.
        what: String,
        /// What is wrong.
        #[source]
        source: PemError,
    },
    /// The leaf certificate cannot be parsed.
    #[error("{what}: the certificate does not parse: {detail}")]
    Certificate {
        /// Which files or value.
        what: String,
        /// What the parser said.
        detail: String,
    },
}

/// A certificate ready to present, with what `serve` needs to know of it.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    /// The chain and signing key.
    pub key: Arc<CertifiedKey>,
    /// The leaf's notAfter (Unix seconds).
    pub not_after: i64,
    /// The leaf's DNS names (subjectAltName dNSName entries, lower case,
    /// wildcards included as written).
    pub names: Vec<String>,
}

/// Make a [`LoadedCert`] of a PEM chain (leaf first) and a PEM private
/// key (PKCS#8, PKCS#1 or SEC1); `what` names them in errors.
///
/// # Errors
///
/// [`CertFileError`] when the PEM holds no certificate or key, the key is
/// unusable or not the leaf's, or the leaf does not parse.
pub fn load_pem(chain_pem: &str, key_pem: &str, what: &str) -> Result<LoadedCert, CertFileError> {
    let key = certified_key_from_pem(chain_pem, key_pem).map_err(|source| CertFileError::Pem {
        what: what.to_owned(),
        source,
    })?;
    let Some(leaf) = key.cert.first() else {
        return Err(CertFileError::Pem {
            what: what.to_owned(),
            source: PemError::ChainLength(0),
        });
    };
    let (not_after, names) = leaf_facts(leaf).map_err(|detail| CertFileError::Certificate {
        what: what.to_owned(),
        detail,
    })?;
    Ok(LoadedCert {
        key,
        not_after,
        names,
    })
}

/// The leaf's notAfter and DNS names.
fn leaf_facts(leaf: &CertificateDer<'_>) -> Result<(i64, Vec<String>), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| e.to_string())?;
    let not_after = cert.validity().not_after.timestamp();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.trim_end_matches('.').to_ascii_lowercase());
            }
        }
    }
    Ok((not_after, names))
}

/// Read at most [`MAX_PEM_FILE`] bytes of `path`, as text.
fn read_bounded(path: &Path) -> Result<String, CertFileError> {
    let io = |source| CertFileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_PEM_FILE {
        return Err(CertFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(buf).map_err(|_| CertFileError::NotText {
        path: path.to_owned(),
    })
}

/// What identifies a version of a file: modification time and size.
type Stamp = (Option<SystemTime>, u64);

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    // `metadata` follows symbolic links: certbot's live/ files link to
    // archive/, and a renewal points them at new files.
    let m = std::fs::metadata(path)?;
    Ok((m.modified().ok(), m.len()))
}

/// One `DIR/<name>/` as last seen.
#[derive(Debug)]
struct Entry {
    /// The stamps of the chain and key files when last read (`None`:
    /// missing or unreadable).
    stamps: (Option<Stamp>, Option<Stamp>),
    /// The certificate last loaded successfully (kept when a later
    /// version of the files is broken).
    loaded: Option<LoadedCert>,
}

/// A problem met while scanning (logged and counted by the caller).
#[derive(Debug)]
pub(crate) struct ScanProblem {
    /// The directory of the certificate.
    pub(crate) dir: PathBuf,
    /// What went wrong.
    pub(crate) error: CertFileError,
}

/// A certbot-style certificate directory and what was loaded from it.
#[derive(Debug)]
pub(crate) struct CertDir {
    path: PathBuf,
    entries: HashMap<String, Entry>,
}

impl CertDir {
    /// Watch `path` (nothing read yet).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            entries: HashMap::new(),
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Look at every `DIR/<name>/` and (re-)load those whose files
    /// changed (every one with `force`). A broken new version keeps the
    /// previous certificate and is reported in the returned problems; a
    /// removed directory drops its certificate.
    ///
    /// # Errors
    ///
    /// When `DIR` itself cannot be listed (nothing changes then).
    pub(crate) fn scan(&mut self, force: bool) -> Result<Vec<ScanProblem>, std::io::Error> {
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for item in std::fs::read_dir(&self.path)? {
            let item = item?;
            let dir = item.path();
            // Directories only (following links); certbot also keeps a README.
            if !dir.is_dir() {
                continue;
            }
            let Some(name) = item.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let chain_path = dir.join(CHAIN_FILE);
            let key_path = dir.join(KEY_FILE);
            let stamps = (stamp(&chain_path).ok(), stamp(&key_path).ok());
            seen.push(name.clone());
            if !force && self.entries.get(&name).is_some_and(|e| e.stamps == stamps) {
                continue;
            }
            let loaded = read_bounded(&chain_path).and_then(|chain| {
                let key = read_bounded(&key_path)?;
                load_pem(&chain, &key, &dir.display().to_string())
            });
            match loaded {
                Ok(cert) => {
                    self.entries.insert(
                        name,
                        Entry {
                            stamps,
                            loaded: Some(cert),
                        },
                    );
                }
                Err(error) => {
                    // Remember the stamps so a broken version is reported
                    // once, not at every scan; keep the last good one.
                    let entry = self.entries.entry(name).or_insert(Entry {
                        stamps,
                        loaded: None,
                    });
                    entry.stamps = stamps;
                    problems.push(ScanProblem { dir, error });
                }
            }
        }
        self.entries.retain(|name, _| seen.contains(name));
        Ok(problems)
    }

    /// The certificates by host name: every dNSName of each loaded
    /// certificate except wildcards; when two certificates name one host
    /// the later notAfter wins.
    pub(crate) fn by_host(&self) -> HashMap<String, LoadedCert> {
        let mut out: HashMap<String, LoadedCert> = HashMap::new();
        for e in self.entries.values() {
            let Some(cert) = &e.loaded else { continue };
            for name in &cert.names {
                if name.starts_with("*.") {
                    continue;
                }
                match out.get(name) {
                    Some(c) if c.not_after >= cert.not_after => {}
                    _ => {
                        out.insert(name.clone(), cert.clone());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::TestCa;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mtasts-certfiles-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn pem_files_over_1_mib_are_refused() {
        assert_eq!(MAX_PEM_FILE, 1024 * 1024);
        let d = tmp("size");
        let file = d.join("f.pem");
        // At the limit: read whole.
        let at = "#".repeat(usize::try_from(MAX_PEM_FILE).unwrap());
        std::fs::write(&file, &at).unwrap();
        assert_eq!(read_bounded(&file).unwrap(), at);
        // One byte more: refused, naming the file.
        std::fs::write(&file, format!("{at}#")).unwrap();
        let e = read_bounded(&file).unwrap_err();
        assert!(
            matches!(&e, CertFileError::TooLarge { path } if *path == file),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{}: larger than 1048576 bytes", file.display())
        );
        // A huge sparse file: read no further than the limit.
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(1 << 40).unwrap();
        assert!(matches!(
            read_bounded(&file),
            Err(CertFileError::TooLarge { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn cert_dir_reports_an_oversized_file_and_keeps_the_good_certificate() {
        let d = tmp("scan");
        let ca = TestCa::new();
        let leaf = ca.issue(&["a.test"]);
        let host = d.join("a.test");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join(CHAIN_FILE), &leaf.cert_pem).unwrap();
        std::fs::write(host.join(KEY_FILE), &leaf.key_pem).unwrap();
        let mut dir = CertDir::new(d.clone());
        assert!(dir.scan(false).unwrap().is_empty());
        assert!(dir.by_host().contains_key("a.test"));
        // The chain file grows past the limit: a problem naming it; the
        // certificate loaded before is kept.
        let chain = host.join(CHAIN_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&chain)
            .unwrap()
            .set_len(MAX_PEM_FILE + 1)
            .unwrap();
        let problems = dir.scan(false).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].dir, host);
        assert!(
            matches!(&problems[0].error, CertFileError::TooLarge { path } if *path == chain),
            "{:?}",
            problems[0].error
        );
        assert!(dir.by_host().contains_key("a.test"));
        // Within the file limit but over the chain's: the PEM limit says so.
        std::fs::write(
            &chain,
            format!("{}\n{}", leaf.cert_pem, "#".repeat(300_000)),
        )
        .unwrap();
        let problems = dir.scan(false).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(
            matches!(
                &problems[0].error,
                CertFileError::Pem {
                    source: PemError::TooLarge {
                        what: "certificate chain",
                        ..
                    },
                    ..
                }
            ),
            "{:?}",
            problems[0].error
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
