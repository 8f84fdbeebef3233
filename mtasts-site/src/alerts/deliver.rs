//! What is sent for an alert: the webhook JSON and the e-mail message,
//! and the `--alert-smtp URL` relay settings. The sending itself is
//! `policy-fetch`'s ([`policy_fetch::report_delivery::ReportPoster::post_as`]
//! for the webhook, [`policy_fetch::report_delivery::MailRelay::send`]
//! for the mail).

use std::path::PathBuf;
use std::time::Duration;

use mta_sts_core::time::Timestamp;
use policy_fetch::report_delivery::{RelaySecurity, RelaySettings};

use super::store::StoredAlert;

/// The webhook body: exactly these members (`mx_host` is `null` for an
/// alert without an MX host; `first_seen` is RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookBody {
    /// The policy domain.
    pub domain: String,
    /// The result type or probe code.
    pub result_type: String,
    /// The receiving MX host.
    pub mx_host: Option<String>,
    /// Failed sessions.
    pub failed_sessions: u64,
    /// When first seen (RFC 3339).
    pub first_seen: String,
    /// The reporting organizations.
    pub reporting_organizations: Vec<String>,
    /// The sending MTA IPs.
    pub sending_mta_ips: Vec<String>,
    /// What to do, one step per line.
    pub remediation: String,
    /// The report ids.
    pub report_ids: Vec<String>,
    /// One paragraph (what Slack and Mattermost display).
    pub text: String,
}

impl WebhookBody {
    /// The body of `alert`.
    #[must_use]
    pub fn of(alert: &StoredAlert) -> Self {
        Self {
            domain: alert.domain.clone(),
            result_type: alert.result_type.clone(),
            mx_host: alert.mx_host.clone(),
            failed_sessions: alert.failed_sessions,
            first_seen: Timestamp::from_unix(alert.first_seen).to_string(),
            reporting_organizations: alert.reporting_organizations.clone(),
            sending_mta_ips: alert.sending_mta_ips.clone(),
            remediation: alert.remediation.clone(),
            report_ids: alert.report_ids.clone(),
            text: alert.text.clone(),
        }
    }

    /// As JSON bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `s` with control characters and non-ASCII replaced, cut to `max`
/// characters: safe in a header.
fn header_safe(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

/// Quoted-printable (RFC 2045) of `text`, lines ended by CRLF.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut col = 0usize;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let enc = match b {
                b'=' => true,
                b' ' | b'\t' => last,
                33..=126 => false,
                _ => true,
            };
            let piece = if enc {
                format!("={b:02X}")
            } else {
                char::from(b).to_string()
            };
            if col + piece.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// The e-mail of `alert`: from `from` to `to`, dated `now`, text/plain
/// UTF-8 in quoted-printable, CRLF line ends.
#[must_use]
pub fn email(alert: &StoredAlert, from: &str, to: &str, now: i64) -> Vec<u8> {
    let date = tlsrpt_core::outgoing::rfc5322_date(Timestamp::from_unix(now))
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".to_owned());
    let from_domain = from.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let subject = header_safe(
        &format!("[mtasts alert] {}: {}", alert.severity, alert.title),
        180,
    );
    let mut body = String::new();
    body.push_str(&alert.text);
    body.push_str("\n\n");
    let none = "(none)".to_owned();
    let join = |v: &[String]| {
        if v.is_empty() {
            none.clone()
        } else {
            v.join(", ")
        }
    };
    body.push_str(&format!("Domain: {}\n", alert.domain));
    body.push_str(&format!("Result type: {}\n", alert.result_type));
    body.push_str(&format!(
        "MX host: {}\n",
        alert.mx_host.as_deref().unwrap_or("(none)")
    ));
    body.push_str(&format!("Failed sessions: {}\n", alert.failed_sessions));
    body.push_str(&format!(
        "First seen: {}\n",
        Timestamp::from_unix(alert.first_seen)
    ));
    body.push_str(&format!(
        "Reporting organizations: {}\n",
        join(&alert.reporting_organizations)
    ));
    body.push_str(&format!(
        "Sending MTA IPs: {}\n",
        join(&alert.sending_mta_ips)
    ));
    body.push_str(&format!("Report ids: {}\n", join(&alert.report_ids)));
    body.push_str("\nWhat to do:\n");
    for step in alert.remediation.lines() {
        body.push_str(&format!("- {step}\n"));
    }
    body.push_str(&format!(
        "\nAlert {} (mtasts alerts --json lists it with its deliveries).\n",
        alert.id
    ));
    let mut m = String::new();
    m.push_str(&format!("From: {}\r\n", header_safe(from, 254)));
    m.push_str(&format!("To: {}\r\n", header_safe(to, 254)));
    m.push_str(&format!("Subject: {subject}\r\n"));
    m.push_str(&format!("Date: {date}\r\n"));
    m.push_str(&format!(
        "Message-ID: <mtasts-alert-{}-{}@{}>\r\n",
        alert.id,
        alert.raised_at,
        header_safe(from_domain, 200)
    ));
    m.push_str("Auto-Submitted: auto-generated\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: quoted-printable\r\n");
    m.push_str("\r\n");
    m.push_str(&quoted_printable(&body));
    m.into_bytes()
}

/// Why an `--alert-smtp` URL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--alert-smtp `{url}`: {reason}")]
pub struct RelayUrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// The relay settings of an `--alert-smtp` URL:
///
/// - `smtp://HOST[:PORT]` — STARTTLS required (port 587 by default);
/// - `smtps://HOST[:PORT]` — TLS from the first byte (port 465);
/// - `?tls=opportunistic` or `?tls=none` after an `smtp://` URL: STARTTLS
///   when offered, or no TLS (a relay on the same host or a trusted
///   network only).
///
/// `from` is the envelope sender; `ca_file` replaces the system's trust
/// anchors for the relay's certificate. User information (`AUTH`) is not
/// supported in the URL.
///
/// # Errors
///
/// [`RelayUrlError`] when the URL is not one of the above.
pub fn relay_settings(
    url: &str,
    from: &str,
    ca_file: Option<PathBuf>,
) -> Result<RelaySettings, RelayUrlError> {
    let bad = |reason| RelayUrlError {
        url: url.to_owned(),
        reason,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("not an smtp:// or smtps:// URL"))?;
    let (mut security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (RelaySecurity::StartTls, 587),
        "smtps" => (RelaySecurity::ImplicitTls, 465),
        _ => return Err(bad("not an smtp:// or smtps:// URL")),
    };
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a.trim_end_matches('/'), Some(q)),
        None => (rest.trim_end_matches('/'), None),
    };
    if authority.contains('@') {
        return Err(bad("user information is not supported"));
    }
    if authority.contains('/') {
        return Err(bad("a path is not allowed"));
    }
    if let Some(q) = query {
        for kv in q.split('&').filter(|s| !s.is_empty()) {
            security = match (kv, security) {
                ("tls=opportunistic", RelaySecurity::StartTls) => RelaySecurity::Opportunistic,
                ("tls=none", RelaySecurity::StartTls) => RelaySecurity::None,
                ("tls=required", RelaySecurity::StartTls) => RelaySecurity::StartTls,
                _ => {
                    return Err(bad(
                        "the only option is tls=required|opportunistic|none (smtp:// only)",
                    ));
                }
            };
        }
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after `]`"))?),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad("invalid port"))?,
    };
    let hello = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let mut s = RelaySettings::new(host, port, hello, from);
    s.security = security;
    s.ca_file = ca_file;
    s.timeout = Duration::from_secs(30);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        let s = relay_settings("smtp://relay.example:25?tls=none", "a@b.example", None).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("relay.example", 25, RelaySecurity::None)
        );
        let s = relay_settings("smtps://[::1]", "a@b.example", None).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("::1", 465, RelaySecurity::ImplicitTls)
        );
        let s = relay_settings("smtp://relay.example", "a@b.example", None).unwrap();
        assert_eq!((s.port, s.security), (587, RelaySecurity::StartTls));
        for bad in [
            "relay.example",
            "http://relay.example",
            "smtp://u:p@relay.example",
            "smtp://relay.example:0",
            "smtps://relay.example?tls=none",
            "smtp://",
        ] {
            assert!(relay_settings(bad, "a@b.example", None).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoted_printable_keeps_lines_short_and_escapes() {
        let long = "é".repeat(60);
        let qp = quoted_printable(&format!("a=b \n{long}"));
        assert!(qp.starts_with("a=3Db=20\r\n"));
        assert!(qp.lines().all(|l| l.len() <= 76));
        assert!(qp.contains("=C3=A9"));
    }
}
