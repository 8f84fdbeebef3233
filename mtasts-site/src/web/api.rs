//! The JSON API, `/api/v1/...`, documented in `mtasts-site/openapi.json`
//! (OpenAPI 3.1; the tests check every answer against it and that it
//! lists exactly the routes of [`ROUTES`]).
//!
//! Every route needs `Authorization: Bearer TOKEN` (a token of `mtasts
//! user add`; `401` without a valid one) and answers only about the
//! account's domains: another account's domain, report or alert is `404`
//! as if it did not exist; admins see all. Dates are UTC: days as
//! `YYYY-MM-DD`, times as RFC 3339 (`2026-12-05T00:00:00Z`). Lists take
//! `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and `cursor`
//! (opaque, from the previous page's `next_cursor`, which is `null` on
//! the last page). Errors are `{"error": "..."}` with `400`, `401`,
//! `404`, `405` or `503`.

use std::sync::Arc;

use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::{Account, Web, WebResponse, query_param, respond};
use crate::inbox::summary::{self, SummaryOptions};
use crate::store::{Domain, SiteStore, StoreError};
use crate::verify::rfc3339;
use crate::web::pages::data::{self, day_string};

/// The routes served, as written in `openapi.json`.
pub const ROUTES: [&str; 8] = [
    "/api/v1/domains",
    "/api/v1/domains/{domain}",
    "/api/v1/domains/{domain}/summary",
    "/api/v1/domains/{domain}/daily",
    "/api/v1/domains/{domain}/reports",
    "/api/v1/domains/{domain}/readiness",
    "/api/v1/reports/{id}",
    "/api/v1/alerts",
];

/// The default page size.
pub const DEFAULT_LIMIT: usize = 100;

/// The largest page size.
pub const MAX_LIMIT: usize = 500;

/// The longest day range of `daily` (and the default range's length is 30).
pub const MAX_DAYS: i64 = 366;

/// The name of the readiness condition the API does not check.
pub const NOT_CHECKED: &str = crate::promote::COND_MX;

/// An API failure.
struct ApiError(StatusCode, String);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %policy_fetch::error::Chain(&e), "API: site store failed");
        Self(
            StatusCode::SERVICE_UNAVAILABLE,
            "site store unavailable".to_owned(),
        )
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "not found".to_owned())
}

fn json_response(status: StatusCode, v: &Value) -> WebResponse {
    respond(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn parse_day(s: &str) -> Option<i64> {
    <&[u8; 10]>::try_from(s.as_bytes())
        .ok()
        .and_then(mta_sts_core::time::canonical_day)
}

/// The `from`/`to` days of a request (`None` when absent).
fn range(q: Option<&str>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let get = |name: &str| -> Result<Option<i64>, ApiError> {
        query_param(q, name)
            .map(|v| {
                parse_day(&v).ok_or_else(|| bad(format!("{name}: `{v}` is not a date YYYY-MM-DD")))
            })
            .transpose()
    };
    let (from, to) = (get("from")?, get("to")?);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(bad("from is after to"));
    }
    Ok((from, to))
}

/// `limit`.
fn limit(q: Option<&str>) -> Result<usize, ApiError> {
    match query_param(q, "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad(format!("limit must be 1 to {MAX_LIMIT}"))),
    }
}

/// `limit` and the offset in `cursor`.
fn page(q: Option<&str>) -> Result<(usize, usize), ApiError> {
    let limit = limit(q)?;
    let offset = match query_param(q, "cursor") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 1_000_000)
            .ok_or_else(|| bad("cursor: not a cursor of this list"))?,
    };
    Ok((limit, offset))
}

/// `items[offset..offset+limit]` and the next cursor.
fn paginate<T>(items: Vec<T>, limit: usize, offset: usize) -> (Vec<T>, Value) {
    let total = items.len();
    let end = offset.saturating_add(limit);
    let next = if end < total {
        Value::String(end.to_string())
    } else {
        Value::Null
    };
    (items.into_iter().skip(offset).take(limit).collect(), next)
}

/// Answer one `/api/v1/...` request.
pub(crate) async fn handle<B>(web: &Arc<Web>, req: &Request<B>) -> WebResponse {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut r = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "method not allowed"}),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let account = match token {
        None => None,
        Some(t) => match web.bearer(t).await {
            Ok(a) => a,
            Err(e) => {
                return json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": ApiError::from(e).1}),
                );
            }
        },
    };
    let Some(account) = account else {
        let mut r = json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "a valid `Authorization: Bearer TOKEN` is required (mtasts user add)"}),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mtasts\""),
        );
        return r;
    };
    match route(web, &account, req.uri().path(), req.uri().query()).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(ApiError(status, msg)) => json_response(status, &json!({ "error": msg })),
    }
}

async fn route(
    web: &Arc<Web>,
    account: &Account,
    path: &str,
    q: Option<&str>,
) -> Result<Value, ApiError> {
    let parts: Vec<&str> = path
        .strip_prefix("/api/v1")
        .unwrap_or("")
        .split('/')
        .skip(1)
        .collect();
    match parts.as_slice() {
        ["domains"] => domains(web, account, q).await,
        ["domains", d] => domain(web, account, &visible(web, account, d).await?).await,
        ["domains", d, "summary"] => domain_summary(web, &visible(web, account, d).await?, q).await,
        ["domains", d, "daily"] => daily(web, &visible(web, account, d).await?, q).await,
        ["domains", d, "reports"] => reports(web, &visible(web, account, d).await?, q).await,
        ["domains", d, "readiness"] => readiness(web, &visible(web, account, d).await?).await,
        ["reports", id] => report(web, account, id).await,
        ["alerts"] => alerts(web, account, q).await,
        _ => Err(not_found()),
    }
}

/// The hosted domain `raw` when `account` may see it; `404` otherwise.
async fn visible(web: &Web, account: &Account, raw: &str) -> Result<Domain, ApiError> {
    let name = mta_sts_core::domain::fold(&super::percent_decode(raw.as_bytes())).into_owned();
    if !account.can_see(&name) {
        return Err(not_found());
    }
    web.blocking(move |s| s.domain(&name))
        .await?
        .ok_or_else(not_found)
}

fn days_in_mode(d: &Domain, now: i64) -> u64 {
    mta_sts_core::hosting::days_between(d.mode_since, now)
}

fn domain_item(d: &Domain, now: i64) -> Value {
    json!({
        "domain": d.name,
        "mode": d.settings.mode.to_string(),
        "policy_id": d.current.id,
        "days_in_mode": days_in_mode(d, now),
        "mode_since": rfc3339(d.mode_since),
        "removing_until": d.removing_until.map(rfc3339),
    })
}

async fn domains(web: &Web, account: &Account, q: Option<&str>) -> Result<Value, ApiError> {
    let limit = limit(q)?;
    let after = query_param(q, "cursor");
    let all = web.blocking(|s| s.domains()).await?;
    let now = super::now_secs();
    let visible: Vec<&Domain> = all
        .iter()
        .filter(|d| account.can_see(&d.name))
        .filter(|d| after.as_deref().is_none_or(|a| d.name.as_str() > a))
        .collect();
    let next = if visible.len() > limit {
        visible
            .get(limit - 1)
            .map_or(Value::Null, |d| Value::String(d.name.clone()))
    } else {
        Value::Null
    };
    let items: Vec<Value> = visible
        .into_iter()
        .take(limit)
        .map(|d| domain_item(d, now))
        .collect();
    Ok(json!({ "domains": items, "next_cursor": next }))
}

async fn domain(web: &Web, _account: &Account, d: &Domain) -> Result<Value, ApiError> {
    let now = super::now_secs();
    let name = d.name.clone();
    let records = web
        .blocking(move |s| {
            Ok(match crate::domains::records(s, &name, None, now) {
                Ok(r) => Some(r),
                Err(crate::domains::DomainError::Store(e)) => return Err(e),
                Err(_) => None,
            })
        })
        .await?;
    let mut v = domain_item(d, now);
    if let Value::Object(m) = &mut v {
        m.insert("mx".into(), json!(d.settings.mx));
        m.insert("max_age".into(), json!(d.settings.max_age));
        m.insert("rua".into(), json!(d.settings.rua));
        m.insert("policy".into(), json!(d.current.body));
        m.insert("policy_version".into(), json!(d.current.version));
        m.insert("created_at".into(), json!(rfc3339(d.created_at)));
        m.insert(
            "records".into(),
            match records {
                Some(r) => Value::Array(
                    r.records
                        .iter()
                        .map(|rec| {
                            let mut o = serde_json::to_value(rec).unwrap_or(Value::Null);
                            if let Value::Object(o) = &mut o {
                                o.insert("zone_line".into(), json!(rec.zone_line()));
                            }
                            o
                        })
                        .collect(),
                ),
                None => Value::Null,
            },
        );
    }
    Ok(v)
}

async fn domain_summary(web: &Web, d: &Domain, q: Option<&str>) -> Result<Value, ApiError> {
    let (from, to) = range(q)?;
    let mut filter = tlsrpt_core::summary::Filter::new().policy_domain(&d.name);
    if let Some(f) = from {
        filter = filter.since(f);
    }
    if let Some(t) = to {
        filter = filter.until(t);
    }
    let options = SummaryOptions {
        filter: filter.clone(),
        ..SummaryOptions::default()
    };
    let s = web
        .blocking(move |s| summary::summarize(s.inbox(), &options))
        .await?;
    let mut v = serde_json::to_value(&s)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Value::Object(m) = &mut v {
        m.insert(
            "filter".into(),
            json!({
                "since": filter.since.map(day_string),
                "until": filter.until.map(day_string),
                "domains": filter.policy_domains,
            }),
        );
    }
    Ok(v)
}

/// `(key, failed)` pairs, largest first.
async fn daily(web: &Web, d: &Domain, q: Option<&str>) -> Result<Value, ApiError> {
    let (from, to) = range(q)?;
    let today = super::now_secs().div_euclid(86_400);
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - 29);
    if from > to {
        return Err(bad("from is after to"));
    }
    if to - from >= MAX_DAYS {
        return Err(bad(format!("at most {MAX_DAYS} days")));
    }
    let name = d.name.clone();
    // The same computation as the domain page's charts.
    let stats = web
        .blocking(move |s| data::domain_stats(s.inbox(), &name, from, to))
        .await?;
    let ranked = |v: &[(String, u64)]| -> Value {
        Value::Array(
            v.iter()
                .map(|(k, n)| json!({"key": k, "failed": n}))
                .collect(),
        )
    };
    Ok(json!({
        "domain": d.name,
        "from": day_string(from),
        "to": day_string(to),
        "days": stats.days.iter().map(|day| json!({
            "date": day_string(day.day), "successful": day.successful, "failed": day.failed
        })).collect::<Vec<_>>(),
        "failures": {
            "by_result_type": ranked(&stats.by_result_type),
            "by_mx_host": ranked(&stats.by_mx_host),
            "by_organization": ranked(&stats.by_organization),
            "by_sending_ip": ranked(&stats.by_sending_ip),
        },
    }))
}

async fn reports(web: &Web, d: &Domain, q: Option<&str>) -> Result<Value, ApiError> {
    let (from, to) = range(q)?;
    let (limit, offset) = page(q)?;
    let name = d.name.clone();
    // The same list as the domain page's, newest first.
    let mut items = web
        .blocking(move |s| {
            data::reports_of(
                s.inbox(),
                &name,
                from.unwrap_or(i64::MIN),
                to.unwrap_or(i64::MAX),
                usize::MAX,
            )
        })
        .await?;
    items.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.key.cmp(&b.key)));
    let items = items
        .into_iter()
        .map(|r| {
            json!({
                "id": r.key,
                "organization": r.organization,
                "report_id": r.report_id,
                "start": r.start,
                "end": r.end,
                "successful": r.successful,
                "failed": r.failed,
            })
        })
        .collect();
    let (items, next) = paginate(items, limit, offset);
    Ok(json!({ "domain": d.name, "reports": items, "next_cursor": next }))
}

async fn report(web: &Web, account: &Account, id: &str) -> Result<Value, ApiError> {
    let Some(domains) = web.report_domains(id).await? else {
        return Err(not_found());
    };
    if !domains.iter().any(|d| account.can_see(d)) {
        return Err(not_found());
    }
    let (org, rid) = super::parse_report_url_id(id).ok_or_else(not_found)?;
    let stored = web
        .blocking(move |s| s.inbox().stored_report(&org, &rid))
        .await?
        .ok_or_else(not_found)?;
    // A report can cover several policy domains: an account sees the
    // policies of its own domains only.
    let report = data::visible_report_json(&stored.json, account)?;
    Ok(json!({
        "id": id,
        "organization": stored.organization,
        "report_id": stored.report_id,
        "received_at": rfc3339(stored.received_at),
        "dkim": {"status": stored.dkim.status.as_str(), "domain": stored.dkim.domain},
        "receipts": stored.receipts,
        "report": report,
    }))
}

async fn readiness(web: &Web, d: &Domain) -> Result<Value, ApiError> {
    let now = super::now_secs();
    let dom = d.clone();
    // The same judgement (and cache) as the domain page's readiness.
    let decision = web
        .blocking(move |s: &dyn SiteStore| data::readiness(s, &dom, now))
        .await?;
    let conditions: Vec<Value> = decision
        .conditions
        .iter()
        .map(|c| {
            if c.name == NOT_CHECKED {
                json!({
                    "name": c.name,
                    "state": "not-checked",
                    "detail": "not checked: the API does not probe the MX hosts live",
                    "fix": format!("run `mtasts domain promote {} --dry-run` or `mtasts check {}` to check the MX hosts", d.name, d.name),
                })
            } else {
                json!({
                    "name": c.name,
                    "state": if c.ok { "ok" } else { "failed" },
                    "detail": c.detail,
                    "fix": c.fix,
                })
            }
        })
        .collect();
    let ready = decision
        .conditions
        .iter()
        .filter(|c| c.name != NOT_CHECKED)
        .all(|c| c.ok);
    Ok(json!({
        "domain": d.name,
        "mode": decision.mode.to_string(),
        "days_in_mode": decision.days_in_mode,
        "days_required": decision.days_required,
        "ready": ready,
        "not_checked": [NOT_CHECKED],
        "conditions": conditions,
    }))
}

async fn alerts(web: &Web, account: &Account, q: Option<&str>) -> Result<Value, ApiError> {
    let (limit, offset) = page(q)?;
    let want = offset.saturating_add(limit).saturating_add(1);
    let acc = account.clone();
    let mut list = web
        .blocking(move |s| {
            if acc.admin {
                s.alerts().list_alerts(None, want)
            } else {
                let mut all = Vec::new();
                for d in &acc.domains {
                    all.extend(s.alerts().list_alerts(Some(d), want)?);
                }
                Ok(all)
            }
        })
        .await?;
    list.sort_by(|a, b| b.raised_at.cmp(&a.raised_at).then_with(|| b.id.cmp(&a.id)));
    list.dedup_by_key(|a| a.id);
    let items: Vec<Value> = list
        .into_iter()
        .filter(|a| account.can_see(&a.domain))
        .map(|a| {
            json!({
                "id": a.id,
                "domain": a.domain,
                "source": a.source,
                "severity": a.severity,
                "result_type": a.result_type,
                "mx_host": a.mx_host,
                "failed_sessions": a.failed_sessions,
                "first_seen": rfc3339(a.first_seen),
                "raised_at": rfc3339(a.raised_at),
                "last_seen": rfc3339(a.last_seen),
                "repeats": a.repeats,
                "reporting_organizations": a.reporting_organizations,
                "sending_mta_ips": a.sending_mta_ips,
                "report_ids": a.report_ids,
                "title": a.title,
                "remediation": a.remediation,
            })
        })
        .collect();
    let (items, next) = paginate(items, limit, offset);
    Ok(json!({ "alerts": items, "next_cursor": next }))
}
