//! `mtasts cert check`: is a certificate valid for an MX host at a time?

use std::time::SystemTime;

use anyhow::{Result, anyhow, bail};
use mta_sts_core::ResultType;
use mta_sts_core::cert::{self, CertVerdict};
use mta_sts_core::display::escape_controls;
use serde::Serialize;

use crate::CertCheckArgs;
use crate::{input, output};

/// The JSON output of `cert check`.
#[derive(Serialize)]
struct CheckJson {
    /// Whether the certificate is valid for the host.
    valid: bool,
    /// The TLS-RPT result type when invalid.
    result_type: Option<ResultType>,
    /// A one-line reason.
    reason: String,
}

/// `mtasts cert check`.
pub(crate) fn check(args: &CertCheckArgs, json: bool) -> Result<()> {
    let file = input::read_cert(&args.cert)?;
    let der = cert::load_certificate(&file.bytes).map_err(|e| anyhow!("{}: {e}", file.name))?;
    let now = args.at.unwrap_or_else(SystemTime::now);
    let verdict = cert::check_certificate(&der, &args.mx, now);
    // A file that is not a certificate is bad input, not a check result.
    if let CertVerdict::Unreadable(_) = &verdict {
        bail!("{}: {}", file.name, verdict.reason());
    }
    let result_type = verdict.result_type();
    let reason = verdict.reason();
    if json {
        output::json(&CheckJson {
            valid: verdict.is_valid(),
            result_type: result_type.clone(),
            reason: reason.clone(),
        })?;
    } else {
        // The reason lists the certificate's SAN names: untrusted text.
        let reason = escape_controls(&reason);
        let line = match &result_type {
            None => format!("valid: {reason}\n"),
            Some(t) => format!("invalid ({t}): {reason}\n"),
        };
        output::text(&line)?;
    }
    match result_type {
        None => Ok(()),
        Some(t) => bail!(
            "{}: certificate is not valid for `{}` ({t})",
            file.name,
            args.mx
        ),
    }
}
