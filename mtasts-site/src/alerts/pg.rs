//! [`AlertStore`] for the shared store ([`PgSiteStore`]). A raise takes a
//! transaction-scoped advisory lock on its (domain, result type, MX host)
//! key, so two nodes raising the same key at once make one alert.

use postgres::Row;

use super::store::{
    AlertStore, DeliveryAttempt, NewAlert, Raised, StoredAlert, count_of, count_to, list_json,
    merge, parse_list,
};
use crate::pg::PgSiteStore;
use crate::store::StoreError;

const COLS: &str = "id, source, severity, domain, result_type, mx_host, failed_sessions, first_seen, raised_at, last_seen, repeats, reporting_organizations, sending_mta_ips, report_ids, title, remediation, text";

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e)
}

fn alert_of(r: &Row) -> Result<StoredAlert, StoreError> {
    let mx: String = r.try_get(5).map_err(pg)?;
    let orgs: String = r.try_get(11).map_err(pg)?;
    let ips: String = r.try_get(12).map_err(pg)?;
    let ids: String = r.try_get(13).map_err(pg)?;
    Ok(StoredAlert {
        id: r.try_get(0).map_err(pg)?,
        source: r.try_get(1).map_err(pg)?,
        severity: r.try_get(2).map_err(pg)?,
        domain: r.try_get(3).map_err(pg)?,
        result_type: r.try_get(4).map_err(pg)?,
        mx_host: (!mx.is_empty()).then_some(mx),
        failed_sessions: count_of(r.try_get(6).map_err(pg)?),
        first_seen: r.try_get(7).map_err(pg)?,
        raised_at: r.try_get(8).map_err(pg)?,
        last_seen: r.try_get(9).map_err(pg)?,
        repeats: count_of(r.try_get(10).map_err(pg)?),
        reporting_organizations: parse_list("alert organizations", &orgs)?,
        sending_mta_ips: parse_list("alert sending IPs", &ips)?,
        report_ids: parse_list("alert report ids", &ids)?,
        title: r.try_get(14).map_err(pg)?,
        remediation: r.try_get(15).map_err(pg)?,
        text: r.try_get(16).map_err(pg)?,
    })
}

impl PgSiteStore {
    fn query_alerts(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let mut client = self.lock()?;
        let rows = client.query(sql, params).map_err(pg)?;
        rows.iter().map(alert_of).collect()
    }
}

impl AlertStore for PgSiteStore {
    fn raise(&self, alert: &NewAlert, quiet_secs: i64, now: i64) -> Result<Raised, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        let mx = alert.mx_host.clone().unwrap_or_default();
        let key = format!("alert|{}|{}|{mx}", alert.domain, alert.result_type);
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
            .map_err(pg)?;
        let since = now.saturating_sub(quiet_secs);
        let existing = tx
            .query_opt(
                &format!(
                    "SELECT {COLS} FROM alerts WHERE domain = $1 AND result_type = $2 AND mx_host = $3
                     AND raised_at > $4 ORDER BY raised_at DESC, id DESC LIMIT 1"
                ),
                &[&alert.domain, &alert.result_type, &mx, &since],
            )
            .map_err(pg)?;
        let out = match existing {
            Some(row) => {
                let old = alert_of(&row)?;
                tx.execute(
                    "UPDATE alerts SET failed_sessions = $2, first_seen = $3, last_seen = $4,
                     repeats = repeats + 1, reporting_organizations = $5, sending_mta_ips = $6,
                     report_ids = $7 WHERE id = $1",
                    &[
                        &old.id,
                        &count_to(old.failed_sessions.saturating_add(alert.failed_sessions)),
                        &old.first_seen.min(alert.first_seen),
                        &now,
                        &list_json(&merge(
                            &old.reporting_organizations,
                            &alert.reporting_organizations,
                        )),
                        &list_json(&merge(&old.sending_mta_ips, &alert.sending_mta_ips)),
                        &list_json(&merge(&old.report_ids, &alert.report_ids)),
                    ],
                )
                .map_err(pg)?;
                Raised::Repeat(old.id)
            }
            None => {
                let row = tx
                    .query_one(
                        "INSERT INTO alerts (source, severity, domain, result_type, mx_host,
                         failed_sessions, first_seen, raised_at, last_seen, repeats,
                         reporting_organizations, sending_mta_ips, report_ids, title, remediation, text)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 0, $9, $10, $11, $12, $13, $14)
                         RETURNING id",
                        &[
                            &alert.source,
                            &alert.severity,
                            &alert.domain,
                            &alert.result_type,
                            &mx,
                            &count_to(alert.failed_sessions),
                            &alert.first_seen,
                            &now,
                            &list_json(&alert.reporting_organizations),
                            &list_json(&alert.sending_mta_ips),
                            &list_json(&alert.report_ids),
                            &alert.title,
                            &alert.remediation,
                            &alert.text,
                        ],
                    )
                    .map_err(pg)?;
                Raised::New(row.try_get(0).map_err(pg)?)
            }
        };
        tx.commit().map_err(pg)?;
        Ok(out)
    }

    fn list_alerts(
        &self,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match domain {
            Some(d) => self.query_alerts(
                &format!(
                    "SELECT {COLS} FROM alerts WHERE domain = $1 ORDER BY raised_at DESC, id DESC LIMIT $2"
                ),
                &[&d, &limit],
            ),
            None => self.query_alerts(
                &format!("SELECT {COLS} FROM alerts ORDER BY raised_at DESC, id DESC LIMIT $1"),
                &[&limit],
            ),
        }
    }

    fn alerts_since(&self, since: i64) -> Result<Vec<StoredAlert>, StoreError> {
        self.query_alerts(
            &format!("SELECT {COLS} FROM alerts WHERE raised_at >= $1 ORDER BY raised_at, id"),
            &[&since],
        )
    }

    fn attempts(&self, alert_id: i64) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let mut client = self.lock()?;
        let rows = client
            .query(
                "SELECT alert_id, destination, at, result, detail FROM alert_deliveries
                 WHERE alert_id = $1 ORDER BY seq",
                &[&alert_id],
            )
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryAttempt {
                    alert_id: r.try_get(0).map_err(pg)?,
                    destination: r.try_get(1).map_err(pg)?,
                    at: r.try_get(2).map_err(pg)?,
                    result: r.try_get(3).map_err(pg)?,
                    detail: r.try_get(4).map_err(pg)?,
                })
            })
            .collect()
    }

    fn claim_delivery(&self, id: i64, now: i64, until: i64) -> Result<bool, StoreError> {
        let mut client = self.lock()?;
        let n = client
            .execute(
                "UPDATE alerts SET claimed_until = $3 WHERE id = $1 AND claimed_until <= $2",
                &[&id, &now, &until],
            )
            .map_err(pg)?;
        Ok(n == 1)
    }

    fn finish_delivery(&self, id: i64, attempts: &[DeliveryAttempt]) -> Result<(), StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        let row = tx
            .query_one(
                "SELECT COALESCE(MAX(seq), 0)::BIGINT FROM alert_deliveries WHERE alert_id = $1",
                &[&id],
            )
            .map_err(pg)?;
        let mut seq: i64 = row.try_get(0).map_err(pg)?;
        for a in attempts {
            seq = seq.saturating_add(1);
            tx.execute(
                "INSERT INTO alert_deliveries (alert_id, seq, destination, at, result, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &seq, &a.destination, &a.at, &a.result, &a.detail],
            )
            .map_err(pg)?;
        }
        tx.execute("UPDATE alerts SET claimed_until = 0 WHERE id = $1", &[&id])
            .map_err(pg)?;
        tx.commit().map_err(pg)
    }
}
