//! Reading input files (or stdin for `-`) with a size cap.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Result, anyhow};
use mta_sts_core::policy::MAX_POLICY_BODY;
use mta_sts_core::{Policy, PolicyError};

/// Largest certificate file read, in bytes (1 MiB).
pub(crate) const MAX_CERT_FILE: usize = 1024 * 1024;

/// The bytes of an input, read up to one byte past the cap.
pub(crate) struct Input {
    /// How the input is named in messages: the path, or `<stdin>`.
    pub(crate) name: String,
    /// At most `cap + 1` bytes; more than `cap` means the input is too large.
    pub(crate) bytes: Vec<u8>,
    /// The full size when known (regular files).
    size: Option<u64>,
}

impl Input {
    /// Whether more than `cap` bytes were available.
    fn too_large(&self, cap: usize) -> bool {
        self.bytes.len() > cap
    }

    /// The full size for a message: the file size if known, else `None`.
    fn full_size(&self) -> Option<usize> {
        self.size
            .and_then(|s| usize::try_from(s).ok())
            .filter(|&s| s >= self.bytes.len())
    }
}

/// Read `path` (or stdin for `-`), at most `cap + 1` bytes.
pub(crate) fn read_capped(path: &Path, cap: usize) -> Result<Input> {
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        let name = "<stdin>".to_owned();
        io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow!("{name}: {e}"))?;
        return Ok(Input {
            name,
            bytes,
            size: None,
        });
    }
    let name = path.display().to_string();
    let io_err = |e: io::Error| anyhow!("{name}: {e}");
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(anyhow!("{name}: is a directory"));
    }
    let size = meta.is_file().then_some(meta.len());
    file.take(limit).read_to_end(&mut bytes).map_err(io_err)?;
    Ok(Input { name, bytes, size })
}

/// A policy body read from a file, checked for size and UTF-8.
pub(crate) struct PolicyText {
    /// How the input is named in messages.
    pub(crate) name: String,
    /// The body.
    pub(crate) text: String,
}

/// Read a policy body from `path` (or stdin), capped at
/// [`MAX_POLICY_BODY`] bytes and checked with [`Policy::body_text`].
pub(crate) fn read_policy(path: &Path) -> Result<PolicyText> {
    let input = read_capped(path, MAX_POLICY_BODY)?;
    if input.too_large(MAX_POLICY_BODY) {
        // A regular file's real size is known; a stream was cut off.
        let msg = match input.full_size() {
            Some(size) => PolicyError::TooLarge {
                size,
                limit: MAX_POLICY_BODY,
            }
            .to_string(),
            None => format!("policy body is larger than the {MAX_POLICY_BODY}-byte limit"),
        };
        return Err(anyhow!("{}: {msg}", input.name));
    }
    let text = Policy::body_text(&input.bytes)
        .map_err(|e| anyhow!("{}: {e}", input.name))?
        .to_owned();
    Ok(PolicyText {
        name: input.name,
        text,
    })
}

/// Read a certificate file from `path` (or stdin), capped at
/// [`MAX_CERT_FILE`] bytes.
pub(crate) fn read_cert(path: &Path) -> Result<Input> {
    let input = read_capped(path, MAX_CERT_FILE)?;
    if input.too_large(MAX_CERT_FILE) {
        let size = input
            .full_size()
            .map_or_else(|| "larger".to_owned(), |s| format!("{s} bytes, larger"));
        return Err(anyhow!(
            "{}: certificate file is {size} than the {MAX_CERT_FILE}-byte limit",
            input.name
        ));
    }
    Ok(input)
}
