//! The inbox tables in the embedded store ([`crate::sqlite::SqliteStore`]).

use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};

use super::store::{
    DuplicateRow, FailureCount, FailureSum, FailureSumDelta, InboxStats, InboxStore, ListedReport,
    NewReport, PartDelta, PolicyCount, PrunedGroup, PutOutcome, Receipt, ReportQuery, StoredReport,
    SummaryInputs, batch_failure_sums, batch_parts, dkim_of, kind_of, merged_part, prune_deltas,
    to_i64, to_u64,
};
use crate::sqlite::SqliteStore;
use crate::store::StoreError;

/// The inbox schema, run by [`SqliteStore::open`] after the site schema
/// (and, through [`crate::pg::ddl`], by the PostgreSQL backend).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inbox_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization TEXT NOT NULL,
    report_id TEXT NOT NULL,
    start_day INTEGER NOT NULL,
    raw_gz BLOB NOT NULL,
    json TEXT NOT NULL,
    dkim TEXT NOT NULL,
    dkim_domain TEXT,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (organization, report_id)
);
CREATE INDEX IF NOT EXISTS inbox_reports_day ON inbox_reports (start_day);
CREATE INDEX IF NOT EXISTS inbox_reports_received ON inbox_reports (received_at);
CREATE TABLE IF NOT EXISTS inbox_receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report_ref INTEGER NOT NULL REFERENCES inbox_reports (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    dkim TEXT NOT NULL,
    dkim_domain TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_receipts_report ON inbox_receipts (report_ref);
CREATE TABLE IF NOT EXISTS inbox_policies (
    report_ref INTEGER NOT NULL REFERENCES inbox_reports (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    day INTEGER NOT NULL,
    policy_type TEXT NOT NULL,
    successful INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_policies_domain_day ON inbox_policies (domain, day);
CREATE INDEX IF NOT EXISTS inbox_policies_report ON inbox_policies (report_ref);
CREATE TABLE IF NOT EXISTS inbox_failures (
    report_ref INTEGER NOT NULL REFERENCES inbox_reports (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    day INTEGER NOT NULL,
    result_type TEXT NOT NULL,
    mx_host TEXT,
    sending_ip TEXT,
    organization TEXT NOT NULL,
    failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_failures_domain_day ON inbox_failures (domain, day);
CREATE INDEX IF NOT EXISTS inbox_failures_report ON inbox_failures (report_ref);
CREATE TABLE IF NOT EXISTS inbox_state (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox_failure_sums (
    domain TEXT NOT NULL,
    kind TEXT NOT NULL,
    day INTEGER NOT NULL,
    key TEXT NOT NULL,
    failed INTEGER NOT NULL,
    details INTEGER NOT NULL,
    PRIMARY KEY (domain, kind, day, key)
);
CREATE TABLE IF NOT EXISTS inbox_report_list (
    report_ref INTEGER NOT NULL REFERENCES inbox_reports (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    day INTEGER NOT NULL,
    organization TEXT NOT NULL,
    report_id TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    successful INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (report_ref, domain)
);
CREATE INDEX IF NOT EXISTS inbox_report_list_domain_day
    ON inbox_report_list (domain, day, report_ref);
CREATE TABLE IF NOT EXISTS inbox_summary_parts (
    domain TEXT NOT NULL,
    day INTEGER NOT NULL,
    part TEXT NOT NULL,
    PRIMARY KEY (domain, day)
);
CREATE INDEX IF NOT EXISTS inbox_summary_parts_day ON inbox_summary_parts (day);
CREATE TABLE IF NOT EXISTS inbox_duplicates (
    report_ref INTEGER PRIMARY KEY REFERENCES inbox_reports (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS inbox_reports_day_org ON inbox_reports (start_day, organization);
";

/// The reports received more than once (the backfill of
/// `inbox_duplicates`; the same text serves PostgreSQL).
pub(crate) const BACKFILL_DUPLICATES: &str = "INSERT INTO inbox_duplicates (report_ref) \
     SELECT report_ref FROM inbox_receipts WHERE true GROUP BY report_ref HAVING count(*) > 1 \
     ON CONFLICT DO NOTHING";

/// Adds to `inbox_failure_sums` (negative deltas lower it; rows without
/// details left are deleted by the caller).
const UPSERT_SUM: &str = "INSERT INTO inbox_failure_sums (domain, kind, day, key, failed, details) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (domain, kind, day, key) DO UPDATE SET \
     failed = inbox_failure_sums.failed + excluded.failed, \
     details = inbox_failure_sums.details + excluded.details";

/// `inbox_failure_sums` of every `inbox_failures` row (the backfill).
pub(crate) const BACKFILL_SUMS: &str = "
INSERT INTO inbox_failure_sums (domain, kind, day, key, failed, details)
SELECT domain, 'result_type', day, result_type, sum(failed), count(*)
    FROM inbox_failures GROUP BY domain, day, result_type
UNION ALL
SELECT domain, 'mx_host', day, coalesce(mx_host, '(unknown)'), sum(failed), count(*)
    FROM inbox_failures GROUP BY domain, day, coalesce(mx_host, '(unknown)')
UNION ALL
SELECT domain, 'organization', day, organization, sum(failed), count(*)
    FROM inbox_failures GROUP BY domain, day, organization
UNION ALL
SELECT domain, 'sending_ip', day, coalesce(sending_ip, '(unknown)'), sum(failed), count(*)
    FROM inbox_failures GROUP BY domain, day, coalesce(sending_ip, '(unknown)')
";

/// Runs [`SCHEMA`] in `tx` and fills the pre-aggregated tables of a
/// store created before them (while they are empty and the rows they sum
/// are not).
///
/// # Errors
///
/// A statement failed; [`StoreError::Corrupt`] (as a conversion error)
/// when a stored report does not parse.
pub(crate) fn create_schema(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SCHEMA)?;
    let (sums, failures, list, reports): (bool, bool, bool, bool) = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM inbox_failure_sums), EXISTS (SELECT 1 FROM inbox_failures), \
         EXISTS (SELECT 1 FROM inbox_report_list), EXISTS (SELECT 1 FROM inbox_reports)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    if !sums && failures {
        tx.execute_batch(BACKFILL_SUMS)?;
    }
    if !list && reports {
        let mut read = tx.prepare(
            "SELECT id, organization, report_id, json, received_at FROM inbox_reports ORDER BY id",
        )?;
        let mut rows = read.query([])?;
        let mut insert = tx.prepare(INSERT_LIST)?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let organization: String = row.get(1)?;
            let report_id: String = row.get(2)?;
            let json: String = row.get(3)?;
            let received_at: i64 = row.get(4)?;
            let (start, end, list) = super::store::rows_of_stored(&json)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            for l in list {
                insert.execute(params![
                    id,
                    l.domain,
                    l.day,
                    organization,
                    report_id,
                    start,
                    end,
                    to_i64(l.successful),
                    to_i64(l.failed),
                    received_at
                ])?;
            }
        }
    }
    let version: Option<i64> = tx
        .query_row(
            "SELECT value FROM inbox_state WHERE key = ?1",
            params![super::summary::PARTS_STATE_KEY],
            |r| r.get(0),
        )
        .optional()?;
    if version != Some(super::summary::parts_version()) {
        rebuild_all_parts(tx)?;
    }
    Ok(())
}

/// Fills `inbox_summary_parts` and `inbox_duplicates` from the stored
/// reports (a store made before them, or with parts of another version),
/// a day at a time.
fn rebuild_all_parts(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let conv = |e: StoreError| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
    tx.execute("DELETE FROM inbox_summary_parts", [])?;
    tx.execute(BACKFILL_DUPLICATES, [])?;
    let mut read =
        tx.prepare("SELECT start_day, json FROM inbox_reports ORDER BY start_day, id")?;
    let mut rows = read.query([])?;
    let mut builder = super::summary::PartBuilder::default();
    let mut day: Option<i64> = None;
    let mut write = tx.prepare(UPSERT_PART)?;
    let mut flush = |b: &mut super::summary::PartBuilder| -> rusqlite::Result<()> {
        for ((domain, day), json) in b.take() {
            write.execute(params![domain, day, json])?;
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let d: i64 = row.get(0)?;
        if day.is_some_and(|x| x != d) {
            flush(&mut builder)?;
        }
        day = Some(d);
        let json: String = row.get(1)?;
        builder.add(&json, None).map_err(conv)?;
    }
    flush(&mut builder)?;
    tx.execute(
        "INSERT INTO inbox_state (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![
            super::summary::PARTS_STATE_KEY,
            super::summary::parts_version()
        ],
    )?;
    Ok(())
}

/// Writes one `inbox_summary_parts` row.
const UPSERT_PART: &str = "INSERT INTO inbox_summary_parts (domain, day, part) VALUES (?1, ?2, ?3) \
     ON CONFLICT (domain, day) DO UPDATE SET part = excluded.part";

/// One `inbox_report_list` row.
const INSERT_LIST: &str = "INSERT INTO inbox_report_list (report_ref, domain, day, organization, \
     report_id, start_time, end_time, successful, failed, received_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING";

/// `?3, ?4, ...` for `n` domains after two day parameters.
fn placeholders(n: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", i + 3))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SqliteStore {
    /// Merges `deltas` into `inbox_summary_parts`, in `tx`.
    fn add_parts(
        &self,
        tx: &rusqlite::Transaction<'_>,
        deltas: &[PartDelta],
    ) -> Result<(), StoreError> {
        let mut read = tx
            .prepare_cached("SELECT part FROM inbox_summary_parts WHERE domain = ?1 AND day = ?2")
            .map_err(|e| self.err(e))?;
        let mut write = tx.prepare_cached(UPSERT_PART).map_err(|e| self.err(e))?;
        let mut unreadable = Vec::new();
        for d in deltas {
            let stored: Option<String> = read
                .query_row(params![d.domain, d.day], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            match merged_part(stored.as_deref(), d) {
                Some(json) => {
                    write
                        .execute(params![d.domain, d.day, json])
                        .map_err(|e| self.err(e))?;
                }
                // The reports of this transaction are stored already: the
                // rebuild counts them.
                None => unreadable.push((d.domain.clone(), d.day)),
            }
        }
        self.rebuild_parts(tx, &unreadable)
    }

    /// Rebuilds the summary parts of `keys` from the reports stored now,
    /// in `tx` (after pruning).
    fn rebuild_parts(
        &self,
        tx: &rusqlite::Transaction<'_>,
        keys: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let mut read = tx
            .prepare(
                "SELECT r.json FROM inbox_report_list l JOIN inbox_reports r \
                 ON r.id = l.report_ref WHERE l.domain = ?1 AND l.day = ?2 ORDER BY r.id",
            )
            .map_err(|e| self.err(e))?;
        let mut write = tx.prepare_cached(UPSERT_PART).map_err(|e| self.err(e))?;
        for (domain, day) in keys {
            tx.execute(
                "DELETE FROM inbox_summary_parts WHERE domain = ?1 AND day = ?2",
                params![domain, day],
            )
            .map_err(|e| self.err(e))?;
            let mut builder = super::summary::PartBuilder::default();
            let mut rows = read.query(params![domain, day]).map_err(|e| self.err(e))?;
            while let Some(row) = rows.next().map_err(|e| self.err(e))? {
                let json: String = row.get(0).map_err(|e| self.err(e))?;
                builder.add(&json, Some(domain))?;
            }
            for ((domain, day), json) in builder.take() {
                write
                    .execute(params![domain, day, json])
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// Adds `deltas` to `inbox_failure_sums`, in `tx`.
    fn add_sums(
        &self,
        tx: &rusqlite::Transaction<'_>,
        deltas: &[FailureSumDelta],
    ) -> Result<(), StoreError> {
        let mut sum = tx.prepare_cached(UPSERT_SUM).map_err(|e| self.err(e))?;
        for d in deltas {
            sum.execute(params![
                d.domain,
                d.kind.as_str(),
                d.day,
                d.key,
                d.failed,
                d.details
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// One report of [`InboxStore::put_reports`], in `tx`.
    fn put_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        r: &NewReport,
    ) -> Result<PutOutcome, StoreError> {
        let inserted = tx
            .execute(
                "INSERT INTO inbox_reports (organization, report_id, start_day, raw_gz, json, \
                 dkim, dkim_domain, source, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (organization, report_id) DO NOTHING",
                params![
                    r.organization,
                    r.report_id,
                    r.start_day,
                    r.raw_gz,
                    r.json,
                    r.dkim.status.as_str(),
                    r.dkim.domain,
                    r.source,
                    r.received_at
                ],
            )
            .map_err(|e| self.err(e))?;
        let id: i64 = tx
            .query_row(
                "SELECT id FROM inbox_reports WHERE organization = ?1 AND report_id = ?2",
                params![r.organization, r.report_id],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        if inserted > 0 {
            let mut p = tx
                .prepare_cached(
                    "INSERT INTO inbox_policies (report_ref, domain, day, policy_type, \
                     successful, failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|e| self.err(e))?;
            for row in &r.policies {
                p.execute(params![
                    id,
                    row.domain,
                    row.day,
                    row.policy_type,
                    to_i64(row.successful),
                    to_i64(row.failed)
                ])
                .map_err(|e| self.err(e))?;
            }
            let mut f = tx
                .prepare_cached(
                    "INSERT INTO inbox_failures (report_ref, domain, day, result_type, mx_host, \
                     sending_ip, organization, failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(|e| self.err(e))?;
            for row in &r.failures {
                f.execute(params![
                    id,
                    row.domain,
                    row.day,
                    row.result_type,
                    row.mx_host,
                    row.sending_ip,
                    row.organization,
                    to_i64(row.failed)
                ])
                .map_err(|e| self.err(e))?;
            }
            let mut list = tx.prepare_cached(INSERT_LIST).map_err(|e| self.err(e))?;
            for l in r.list_rows() {
                list.execute(params![
                    id,
                    l.domain,
                    l.day,
                    r.organization,
                    r.report_id,
                    r.start,
                    r.end,
                    to_i64(l.successful),
                    to_i64(l.failed),
                    r.received_at
                ])
                .map_err(|e| self.err(e))?;
            }
        }
        tx.execute(
            "INSERT INTO inbox_receipts (report_ref, source, dkim, dkim_domain, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                r.source,
                r.dkim.status.as_str(),
                r.dkim.domain,
                r.received_at
            ],
        )
        .map_err(|e| self.err(e))?;
        if inserted == 0 {
            tx.execute(
                "INSERT INTO inbox_duplicates (report_ref) VALUES (?1) ON CONFLICT DO NOTHING",
                params![id],
            )
            .map_err(|e| self.err(e))?;
        }
        Ok(if inserted > 0 {
            PutOutcome::Stored
        } else {
            PutOutcome::Duplicate
        })
    }
}

impl InboxStore for SqliteStore {
    fn put_reports(&self, reports: &[NewReport]) -> Result<Vec<PutOutcome>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(reports.len());
        for r in reports {
            out.push(self.put_in(&tx, r)?);
        }
        let stored = reports
            .iter()
            .zip(&out)
            .filter(|(_, o)| **o == PutOutcome::Stored)
            .map(|(r, _)| r);
        self.add_sums(&tx, &batch_failure_sums(stored.clone()))?;
        self.add_parts(&tx, &batch_parts(stored))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    fn summary_inputs(&self, query: &ReportQuery) -> Result<SummaryInputs, StoreError> {
        let (since, until) = query.days();
        let mut values: Vec<rusqlite::types::Value> = vec![since.into(), until.into()];
        values.extend(query.domains.iter().map(|d| d.clone().into()));
        let (parts_sql, counts_sql, groups_sql, dups_sql) = if query.domains.is_empty() {
            (
                "SELECT domain, day, part FROM inbox_summary_parts WHERE day BETWEEN ?1 AND ?2"
                    .to_owned(),
                "SELECT domain, day, count(*) FROM inbox_report_list WHERE day BETWEEN ?1 AND ?2 \
                 GROUP BY domain, day"
                    .to_owned(),
                "SELECT organization, start_day, count(*) FROM inbox_reports \
                 WHERE start_day BETWEEN ?1 AND ?2 GROUP BY organization, start_day"
                    .to_owned(),
                "SELECT r.id, r.organization, r.report_id, r.json FROM inbox_duplicates d \
                 JOIN inbox_reports r ON r.id = d.report_ref WHERE r.start_day BETWEEN ?1 AND ?2"
                    .to_owned(),
            )
        } else {
            let list = placeholders(query.domains.len());
            (
                format!(
                    "SELECT domain, day, part FROM inbox_summary_parts WHERE domain IN ({list}) \
                     AND day BETWEEN ?1 AND ?2"
                ),
                format!(
                    "SELECT domain, day, count(*) FROM inbox_report_list WHERE domain IN ({list}) \
                     AND day BETWEEN ?1 AND ?2 GROUP BY domain, day"
                ),
                format!(
                    "SELECT organization, day, count(*) FROM (SELECT DISTINCT report_ref, \
                     organization, day FROM inbox_report_list WHERE domain IN ({list}) \
                     AND day BETWEEN ?1 AND ?2) GROUP BY organization, day"
                ),
                format!(
                    "SELECT r.id, r.organization, r.report_id, r.json FROM inbox_duplicates d \
                     JOIN inbox_reports r ON r.id = d.report_ref WHERE EXISTS (SELECT 1 FROM \
                     inbox_report_list l WHERE l.report_ref = d.report_ref AND l.domain IN ({list}) \
                     AND l.day BETWEEN ?1 AND ?2)"
                ),
            )
        };
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut inputs = SummaryInputs::default();
        {
            let e = |e| self.err(e);
            let mut stmt = tx.prepare(&parts_sql).map_err(e)?;
            inputs.parts = stmt
                .query_map(params_from_iter(values.iter()), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?;
            let mut stmt = tx.prepare(&counts_sql).map_err(e)?;
            inputs.report_counts = stmt
                .query_map(params_from_iter(values.iter()), |r| {
                    Ok((r.get(0)?, r.get(1)?, to_u64(r.get(2)?)))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?;
            let mut stmt = tx.prepare(&groups_sql).map_err(e)?;
            inputs.report_groups = stmt
                .query_map(params_from_iter(values.iter()), |r| {
                    Ok((r.get(0)?, r.get(1)?, to_u64(r.get(2)?)))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?;
            let mut stmt = tx.prepare(&dups_sql).map_err(e)?;
            let dups: Vec<(i64, String, String, String)> = stmt
                .query_map(params_from_iter(values.iter()), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?;
            let mut sources = tx
                .prepare("SELECT source FROM inbox_receipts WHERE report_ref = ?1 ORDER BY id")
                .map_err(e)?;
            for (id, organization, report_id, json) in dups {
                let list = sources
                    .query_map(params![id], |r| r.get(0))
                    .map_err(e)?
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                inputs.duplicates.push(DuplicateRow {
                    organization,
                    report_id,
                    json,
                    sources: list,
                });
            }
            inputs.receipts = to_u64(
                tx.query_row("SELECT count(*) FROM inbox_receipts", [], |r| r.get(0))
                    .map_err(e)?,
            );
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(inputs)
    }

    fn for_each_receipt(
        &self,
        query: &ReportQuery,
        f: &mut dyn FnMut(Receipt) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let (since, until) = query.days();
        let selection = if query.domains.is_empty() {
            "r.start_day BETWEEN ?1 AND ?2".to_owned()
        } else {
            format!(
                "r.id IN (SELECT report_ref FROM inbox_policies WHERE domain IN ({}) \
                 AND day BETWEEN ?1 AND ?2)",
                placeholders(query.domains.len())
            )
        };
        let sql = format!(
            "SELECT c.source, r.json FROM inbox_receipts c JOIN inbox_reports r \
             ON r.id = c.report_ref WHERE {selection} ORDER BY c.id"
        );
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx.prepare(&sql).map_err(|e| self.err(e))?;
            let mut values: Vec<rusqlite::types::Value> = vec![since.into(), until.into()];
            values.extend(query.domains.iter().map(|d| d.clone().into()));
            let mut rows = stmt
                .query(params_from_iter(values))
                .map_err(|e| self.err(e))?;
            while let Some(row) = rows.next().map_err(|e| self.err(e))? {
                let receipt = Receipt {
                    source: row.get(0).map_err(|e| self.err(e))?,
                    json: row.get(1).map_err(|e| self.err(e))?,
                };
                if !f(receipt)? {
                    break;
                }
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn repair_parts(&self, keys: &[(String, i64)]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        self.rebuild_parts(&tx, keys)?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn stored_report(
        &self,
        organization: &str,
        report_id: &str,
    ) -> Result<Option<StoredReport>, StoreError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT start_day, raw_gz, json, dkim, dkim_domain, source, received_at, \
                 (SELECT count(*) FROM inbox_receipts WHERE report_ref = r.id) \
                 FROM inbox_reports r WHERE organization = ?1 AND report_id = ?2",
                params![organization, report_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((start_day, raw_gz, json, dkim, dkim_domain, source, received_at, n)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredReport {
            organization: organization.to_owned(),
            report_id: report_id.to_owned(),
            start_day,
            raw_gz,
            json,
            dkim: dkim_of(&dkim, dkim_domain)?,
            source,
            received_at,
            receipts: to_u64(n),
        }))
    }

    fn inbox_stats(&self) -> Result<InboxStats, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT (SELECT count(*) FROM inbox_reports), (SELECT count(*) FROM inbox_receipts), \
             (SELECT count(*) FROM inbox_policies), (SELECT count(*) FROM inbox_failures)",
            [],
            |r| {
                Ok(InboxStats {
                    reports: to_u64(r.get(0)?),
                    receipts: to_u64(r.get(1)?),
                    policy_rows: to_u64(r.get(2)?),
                    failure_rows: to_u64(r.get(3)?),
                })
            },
        )
        .map_err(|e| self.err(e))
    }

    fn prune(&self, before_day: i64) -> Result<u64, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let pruned: Vec<PrunedGroup> = {
            let mut stmt = tx
                .prepare(
                    "SELECT domain, day, result_type, mx_host, sending_ip, organization, \
                     sum(failed), count(*) FROM inbox_failures WHERE report_ref IN \
                     (SELECT id FROM inbox_reports WHERE received_at < ?1) \
                     GROUP BY domain, day, result_type, mx_host, sending_ip, organization",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![before_day.saturating_mul(86_400)], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        if !pruned.is_empty() {
            let deltas = prune_deltas(&pruned);
            self.add_sums(&tx, &deltas)?;
            tx.execute("DELETE FROM inbox_failure_sums WHERE details <= 0", [])
                .map_err(|e| self.err(e))?;
        }
        let touched: Vec<(String, i64)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT DISTINCT domain, day FROM inbox_report_list WHERE report_ref IN \
                     (SELECT id FROM inbox_reports WHERE received_at < ?1) ORDER BY domain, day",
                )
                .map_err(|e| self.err(e))?;
            stmt.query_map(params![before_day.saturating_mul(86_400)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?
        };
        for table in [
            "inbox_duplicates",
            "inbox_receipts",
            "inbox_policies",
            "inbox_failures",
            "inbox_report_list",
        ] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE report_ref IN \
                     (SELECT id FROM inbox_reports WHERE received_at < ?1)"
                ),
                params![before_day.saturating_mul(86_400)],
            )
            .map_err(|e| self.err(e))?;
        }
        let n = tx
            .execute(
                "DELETE FROM inbox_reports WHERE received_at < ?1",
                params![before_day.saturating_mul(86_400)],
            )
            .map_err(|e| self.err(e))?;
        self.rebuild_parts(&tx, &touched)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn claim_prune(&self, now: i64, every: i64) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT value FROM inbox_state WHERE key = 'last_prune'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let due = last.is_none_or(|l| now.saturating_sub(l) >= every);
        if due {
            tx.execute(
                "INSERT INTO inbox_state (key, value) VALUES ('last_prune', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![now],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(due)
    }

    fn failure_counts(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<FailureCount>, StoreError> {
        let (since, until) = query.days();
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT day, result_type, mx_host, sending_ip, organization, sum(failed) \
                 FROM inbox_failures WHERE domain = ?1 AND day BETWEEN ?2 AND ?3 \
                 GROUP BY day, result_type, mx_host, sending_ip, organization \
                 ORDER BY day, result_type, mx_host, sending_ip, organization",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![domain, since, until], |r| {
                Ok(FailureCount {
                    day: r.get(0)?,
                    result_type: r.get(1)?,
                    mx_host: r.get(2)?,
                    sending_ip: r.get(3)?,
                    organization: r.get(4)?,
                    failed: to_u64(r.get(5)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn session_totals(
        &self,
        query: &ReportQuery,
    ) -> Result<std::collections::HashMap<String, (u64, u64)>, StoreError> {
        let (since, until) = query.days();
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT domain, sum(successful), sum(failed) FROM inbox_policies \
                 WHERE day BETWEEN ?1 AND ?2 GROUP BY domain",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (to_u64(r.get(1)?), to_u64(r.get(2)?)),
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    fn policy_counts(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<PolicyCount>, StoreError> {
        let (since, until) = query.days();
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT day, policy_type, count(*), sum(successful), sum(failed) \
                 FROM inbox_policies WHERE domain = ?1 AND day BETWEEN ?2 AND ?3 \
                 GROUP BY day, policy_type ORDER BY day, policy_type",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![domain, since, until], |r| {
                Ok(PolicyCount {
                    day: r.get(0)?,
                    policy_type: r.get(1)?,
                    policies: to_u64(r.get(2)?),
                    successful: to_u64(r.get(3)?),
                    failed: to_u64(r.get(4)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn failure_sums(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<FailureSum>, StoreError> {
        let (since, until) = query.days();
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT kind, key, sum(failed) FROM inbox_failure_sums \
                 WHERE domain = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY kind, key ORDER BY kind, key",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![domain, since, until], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, key, failed) = row.map_err(|e| self.err(e))?;
            out.push(FailureSum {
                kind: kind_of(&kind)?,
                key,
                failed: to_u64(failed),
            });
        }
        Ok(out)
    }

    fn report_list(
        &self,
        domain: &str,
        query: &ReportQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ListedReport>, StoreError> {
        let (since, until) = query.days();
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT organization, report_id, start_time, end_time, successful, failed, \
                 received_at FROM inbox_report_list WHERE domain = ?1 AND day BETWEEN ?2 AND ?3 \
                 ORDER BY report_ref LIMIT ?4 OFFSET ?5",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![domain, since, until, to_i64(limit), to_i64(offset)],
                |r| {
                    Ok(ListedReport {
                        organization: r.get(0)?,
                        report_id: r.get(1)?,
                        start: r.get(2)?,
                        end: r.get(3)?,
                        successful: to_u64(r.get(4)?),
                        failed: to_u64(r.get(5)?),
                        received_at: r.get(6)?,
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
