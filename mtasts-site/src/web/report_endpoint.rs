//! `POST /v1/tlsrpt`: TLS-RPT reports delivered over HTTPS (RFC 8460
//! section 5.2), on every host name of the server except the
//! `mta-sts.*` policy names (so `rua=https://reports.example.net/v1/tlsrpt`
//! works with a certificate for `reports.example.net` in `--cert-dir`).
//!
//! | request | answer |
//! |---|---|
//! | `Content-Type: application/tlsrpt+gzip` or `application/tlsrpt+json`, a readable report, stored for the first time | `201 Created` |
//! | the same report again (same organization and report id) | `200 OK` |
//! | unreadable (the reason in the body) | `400` |
//! | a body over [`super::WebConfig::max_report_bytes`] (read with a hard limit), or a report over the readers' limits | `413` |
//! | any other content type | `415` |
//! | the store is unavailable | `503` with `Retry-After` |
//!
//! The body goes through [`crate::inbox::Inbox::ingest`] with
//! [`Source::Https`]; no login is needed.

use std::net::IpAddr;
use std::sync::Arc;

use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};

use super::{BodyError, Web, WebResponse, read_body, text};
use crate::inbox::{IngestError, IngestOutcome, Source};

/// The content types accepted.
pub const CONTENT_TYPES: [&str; 2] = ["application/tlsrpt+gzip", "application/tlsrpt+json"];

/// Answer one `POST /v1/tlsrpt`.
pub async fn handle<B>(web: &Arc<Web>, req: Request<B>, peer: IpAddr) -> WebResponse
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let Some(content_type) = CONTENT_TYPES.iter().find(|t| **t == ct) else {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type must be {} or {} (RFC 8460 5.2)\n",
                CONTENT_TYPES[0], CONTENT_TYPES[1]
            ),
        );
    };
    let body = match read_body(req, web.config.max_report_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the report is larger than {} bytes\n",
                    web.config.max_report_bytes
                ),
            );
        }
        Err(BodyError::Broken(e)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("the body could not be read: {e}\n"),
            );
        }
    };
    let source = Source::Https {
        peer,
        content_type: (*content_type).to_owned(),
    };
    match web.inbox.ingest(&body, &source).await {
        Ok(IngestOutcome::Stored {
            organization,
            report_id,
        }) => {
            web.store_ok_at
                .store(super::now_secs(), std::sync::atomic::Ordering::Relaxed);
            text(
                StatusCode::CREATED,
                format!("stored: {organization} {report_id}\n"),
            )
        }
        Ok(IngestOutcome::Duplicate {
            organization,
            report_id,
        }) => text(
            StatusCode::OK,
            format!("duplicate: {organization} {report_id} is already stored\n"),
        ),
        Err(IngestError::Rejected(why)) => text(StatusCode::BAD_REQUEST, format!("{why}\n")),
        Err(IngestError::TooLarge(why)) => text(StatusCode::PAYLOAD_TOO_LARGE, format!("{why}\n")),
        Err(e) => {
            tracing::warn!(error = %policy_fetch::error::Chain(&e), %peer, "report not stored: store unavailable");
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the report store is unavailable; try again later\n",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("300"));
            r
        }
    }
}
