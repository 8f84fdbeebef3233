//! [`AlertStore`] for the embedded store ([`SqliteStore`]).

use rusqlite::{OptionalExtension, Row, params};

use super::store::{
    AlertStore, DeliveryAttempt, NewAlert, Raised, StoredAlert, count_of, count_to, list_json,
    merge, parse_list,
};
use crate::sqlite::SqliteStore;
use crate::store::StoreError;

/// The alert tables (run after the site schema by [`SqliteStore::open`],
/// and through [`crate::pg::ddl`] by the PostgreSQL backend).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    domain TEXT NOT NULL,
    result_type TEXT NOT NULL,
    mx_host TEXT NOT NULL,
    failed_sessions INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    raised_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    repeats INTEGER NOT NULL DEFAULT 0,
    reporting_organizations TEXT NOT NULL,
    sending_mta_ips TEXT NOT NULL,
    report_ids TEXT NOT NULL,
    title TEXT NOT NULL,
    remediation TEXT NOT NULL,
    text TEXT NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_key ON alerts (domain, result_type, mx_host, raised_at);
CREATE INDEX IF NOT EXISTS alerts_raised ON alerts (raised_at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    destination TEXT NOT NULL,
    at INTEGER NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (alert_id, seq)
);
";

const COLS: &str = "id, source, severity, domain, result_type, mx_host, failed_sessions, first_seen, raised_at, last_seen, repeats, reporting_organizations, sending_mta_ips, report_ids, title, remediation, text";

/// A row of `alerts` before its lists are parsed.
struct Raw {
    a: StoredAlert,
    orgs: String,
    ips: String,
    ids: String,
}

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    let mx: String = r.get(5)?;
    Ok(Raw {
        a: StoredAlert {
            id: r.get(0)?,
            source: r.get(1)?,
            severity: r.get(2)?,
            domain: r.get(3)?,
            result_type: r.get(4)?,
            mx_host: (!mx.is_empty()).then_some(mx),
            failed_sessions: count_of(r.get(6)?),
            first_seen: r.get(7)?,
            raised_at: r.get(8)?,
            last_seen: r.get(9)?,
            repeats: count_of(r.get(10)?),
            reporting_organizations: Vec::new(),
            sending_mta_ips: Vec::new(),
            report_ids: Vec::new(),
            title: r.get(14)?,
            remediation: r.get(15)?,
            text: r.get(16)?,
        },
        orgs: r.get(11)?,
        ips: r.get(12)?,
        ids: r.get(13)?,
    })
}

fn finish(r: Raw) -> Result<StoredAlert, StoreError> {
    let mut a = r.a;
    a.reporting_organizations = parse_list("alert organizations", &r.orgs)?;
    a.sending_mta_ips = parse_list("alert sending IPs", &r.ips)?;
    a.report_ids = parse_list("alert report ids", &r.ids)?;
    Ok(a)
}

impl SqliteStore {
    fn query_alerts(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, raw)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(finish).collect()
    }
}

impl AlertStore for SqliteStore {
    fn raise(&self, alert: &NewAlert, quiet_secs: i64, now: i64) -> Result<Raised, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mx = alert.mx_host.clone().unwrap_or_default();
        let since = now.saturating_sub(quiet_secs);
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {COLS} FROM alerts WHERE domain = ?1 AND result_type = ?2 AND mx_host = ?3
                     AND raised_at > ?4 ORDER BY raised_at DESC, id DESC LIMIT 1"
                ),
                params![alert.domain, alert.result_type, mx, since],
                raw,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let out = match existing {
            Some(r) => {
                let old = finish(r)?;
                tx.execute(
                    "UPDATE alerts SET failed_sessions = ?2, first_seen = ?3, last_seen = ?4,
                     repeats = repeats + 1, reporting_organizations = ?5, sending_mta_ips = ?6,
                     report_ids = ?7 WHERE id = ?1",
                    params![
                        old.id,
                        count_to(old.failed_sessions.saturating_add(alert.failed_sessions)),
                        old.first_seen.min(alert.first_seen),
                        now,
                        list_json(&merge(
                            &old.reporting_organizations,
                            &alert.reporting_organizations
                        )),
                        list_json(&merge(&old.sending_mta_ips, &alert.sending_mta_ips)),
                        list_json(&merge(&old.report_ids, &alert.report_ids)),
                    ],
                )
                .map_err(|e| self.err(e))?;
                Raised::Repeat(old.id)
            }
            None => {
                tx.execute(
                    "INSERT INTO alerts (source, severity, domain, result_type, mx_host,
                     failed_sessions, first_seen, raised_at, last_seen, repeats,
                     reporting_organizations, sending_mta_ips, report_ids, title, remediation, text)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 0, ?9, ?10, ?11, ?12, ?13, ?14)",
                    params![
                        alert.source,
                        alert.severity,
                        alert.domain,
                        alert.result_type,
                        mx,
                        count_to(alert.failed_sessions),
                        alert.first_seen,
                        now,
                        list_json(&alert.reporting_organizations),
                        list_json(&alert.sending_mta_ips),
                        list_json(&alert.report_ids),
                        alert.title,
                        alert.remediation,
                        alert.text,
                    ],
                )
                .map_err(|e| self.err(e))?;
                Raised::New(tx.last_insert_rowid())
            }
        };
        tx.commit().map_err(|e| self.err(e))?;
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
                    "SELECT {COLS} FROM alerts WHERE domain = ?1 ORDER BY raised_at DESC, id DESC LIMIT ?2"
                ),
                &[&d, &limit],
            ),
            None => self.query_alerts(
                &format!("SELECT {COLS} FROM alerts ORDER BY raised_at DESC, id DESC LIMIT ?1"),
                &[&limit],
            ),
        }
    }

    fn alerts_since(&self, since: i64) -> Result<Vec<StoredAlert>, StoreError> {
        self.query_alerts(
            &format!("SELECT {COLS} FROM alerts WHERE raised_at >= ?1 ORDER BY raised_at, id"),
            &[&since],
        )
    }

    fn attempts(&self, alert_id: i64) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT alert_id, destination, at, result, detail FROM alert_deliveries
                 WHERE alert_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![alert_id], |r| {
            Ok(DeliveryAttempt {
                alert_id: r.get(0)?,
                destination: r.get(1)?,
                at: r.get(2)?,
                result: r.get(3)?,
                detail: r.get(4)?,
            })
        })
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    fn claim_delivery(&self, id: i64, now: i64, until: i64) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE alerts SET claimed_until = ?3 WHERE id = ?1 AND claimed_until <= ?2",
                params![id, now, until],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    fn finish_delivery(&self, id: i64, attempts: &[DeliveryAttempt]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mut seq: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM alert_deliveries WHERE alert_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        for a in attempts {
            seq = seq.saturating_add(1);
            tx.execute(
                "INSERT INTO alert_deliveries (alert_id, seq, destination, at, result, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, seq, a.destination, a.at, a.result, a.detail],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.execute(
            "UPDATE alerts SET claimed_until = 0 WHERE id = ?1",
            params![id],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }
}
