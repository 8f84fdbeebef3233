//! The inbox tables in the shared store ([`crate::pg::PgSiteStore`]).
//!
//! Two nodes storing the same report at once: `INSERT ... ON CONFLICT
//! DO NOTHING` waits for the other transaction and then inserts nothing;
//! the report id read next (a new snapshot per statement in read
//! committed) is the other node's, so the report is stored once and both
//! receipts are kept.

use postgres::Transaction;
use postgres::types::ToSql;

use super::store::{
    DuplicateRow, FailureCount, FailureSum, FailureSumDelta, InboxStats, InboxStore, ListedReport,
    NewReport, PartDelta, PolicyCount, PrunedGroup, PutOutcome, Receipt, ReportQuery, StoredReport,
    SummaryInputs, batch_failure_sums, batch_parts, dkim_of, kind_of, merged_part, prune_deltas,
    to_i64, to_u64,
};
use crate::pg::{PgSiteStore, pg};
use crate::store::StoreError;

/// Writes one `inbox_summary_parts` row.
const UPSERT_PART: &str = "INSERT INTO inbox_summary_parts (domain, day, part) VALUES ($1, $2, $3) \
     ON CONFLICT (domain, day) DO UPDATE SET part = EXCLUDED.part";

/// The advisory lock key of [`InboxStore::prune`].
const PRUNE_LOCK: i64 = 0x6d74_6173_7473_0002;

/// Adds to `inbox_failure_sums` (negative deltas lower it; rows without
/// details left are deleted by the caller).
const UPSERT_SUM: &str = "INSERT INTO inbox_failure_sums (domain, kind, day, key, failed, details) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (domain, kind, day, key) DO UPDATE SET \
     failed = inbox_failure_sums.failed + EXCLUDED.failed, \
     details = inbox_failure_sums.details + EXCLUDED.details";

/// One `inbox_report_list` row.
const INSERT_LIST: &str = "INSERT INTO inbox_report_list (report_ref, domain, day, organization, \
     report_id, start_time, end_time, successful, failed, received_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";

/// Runs the inbox schema (SQLite's text through [`crate::pg::ddl`]) in
/// `tx` (under the schema lock) and fills the
/// pre-aggregated tables of a database created before them (while they
/// are empty and the rows they sum are not).
///
/// # Errors
///
/// [`StoreError`] when a statement fails or a stored report does not
/// parse.
pub(crate) fn create_schema(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute(&crate::pg::ddl(crate::inbox::sqlite::SCHEMA))
        .map_err(pg)?;
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM inbox_failure_sums), \
             EXISTS (SELECT 1 FROM inbox_failures), \
             EXISTS (SELECT 1 FROM inbox_report_list), EXISTS (SELECT 1 FROM inbox_reports)",
            &[],
        )
        .map_err(pg)?;
    let flag = |i: usize| -> Result<bool, StoreError> { row.try_get(i).map_err(pg) };
    if !flag(0)? && flag(1)? {
        tx.batch_execute(
            &crate::inbox::sqlite::BACKFILL_SUMS
                .replace("sum(failed), count(*)", "sum(failed)::BIGINT, count(*)"),
        )
        .map_err(pg)?;
    }
    if !flag(2)? && flag(3)? {
        let rows = tx
            .query(
                "SELECT id, organization, report_id, json, received_at FROM inbox_reports \
                 ORDER BY id",
                &[],
            )
            .map_err(pg)?;
        let insert = tx.prepare(INSERT_LIST).map_err(pg)?;
        for row in rows {
            let id: i64 = row.try_get(0).map_err(pg)?;
            let organization: String = row.try_get(1).map_err(pg)?;
            let report_id: String = row.try_get(2).map_err(pg)?;
            let json: String = row.try_get(3).map_err(pg)?;
            let received_at: i64 = row.try_get(4).map_err(pg)?;
            let (start, end, list) = super::store::rows_of_stored(&json)?;
            for l in list {
                tx.execute(
                    &insert,
                    &[
                        &id,
                        &l.domain,
                        &l.day,
                        &organization,
                        &report_id,
                        &start,
                        &end,
                        &to_i64(l.successful),
                        &to_i64(l.failed),
                        &received_at,
                    ],
                )
                .map_err(pg)?;
            }
        }
    }
    let version = tx
        .query_opt(
            "SELECT value FROM inbox_state WHERE key = $1",
            &[&crate::inbox::summary::PARTS_STATE_KEY],
        )
        .map_err(pg)?
        .map(|r| r.try_get::<_, i64>(0))
        .transpose()
        .map_err(pg)?;
    if version != Some(crate::inbox::summary::parts_version()) {
        rebuild_all_parts(tx)?;
    }
    Ok(())
}

/// Fills `inbox_summary_parts` and `inbox_duplicates` from the stored
/// reports (a database made before them, or with parts of another
/// version), a day at a time.
fn rebuild_all_parts(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("DELETE FROM inbox_summary_parts", &[])
        .map_err(pg)?;
    tx.execute(crate::inbox::sqlite::BACKFILL_DUPLICATES, &[])
        .map_err(pg)?;
    let days: Vec<i64> = tx
        .query(
            "SELECT DISTINCT start_day FROM inbox_reports ORDER BY start_day",
            &[],
        )
        .map_err(pg)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pg)?;
    let write = tx.prepare(UPSERT_PART).map_err(pg)?;
    for day in days {
        let rows = tx
            .query(
                "SELECT json FROM inbox_reports WHERE start_day = $1 ORDER BY id",
                &[&day],
            )
            .map_err(pg)?;
        let mut builder = crate::inbox::summary::PartBuilder::default();
        for row in rows {
            let json: String = row.try_get(0).map_err(pg)?;
            builder.add(&json, None)?;
        }
        for ((domain, day), json) in builder.take() {
            tx.execute(&write, &[&domain, &day, &json]).map_err(pg)?;
        }
    }
    tx.execute(
        "INSERT INTO inbox_state (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[
            &crate::inbox::summary::PARTS_STATE_KEY,
            &crate::inbox::summary::parts_version(),
        ],
    )
    .map_err(pg)?;
    Ok(())
}

/// Merges `deltas` into `inbox_summary_parts`, in `tx`: the row is made
/// if missing, then locked, so two nodes adding to one part wait for
/// each other.
fn add_parts(tx: &mut Transaction<'_>, deltas: &[PartDelta]) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let create = tx
        .prepare(
            "INSERT INTO inbox_summary_parts (domain, day, part) VALUES ($1, $2, $3) \
             ON CONFLICT (domain, day) DO NOTHING",
        )
        .map_err(pg)?;
    let read = tx
        .prepare("SELECT part FROM inbox_summary_parts WHERE domain = $1 AND day = $2 FOR UPDATE")
        .map_err(pg)?;
    let write = tx.prepare(UPSERT_PART).map_err(pg)?;
    for d in deltas {
        let json = d.part.to_json();
        let made = tx
            .execute(&create, &[&d.domain, &d.day, &json])
            .map_err(pg)?;
        if made == 1 {
            continue;
        }
        let stored: Option<String> = tx
            .query_opt(&read, &[&d.domain, &d.day])
            .map_err(pg)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg)?;
        match merged_part(stored.as_deref(), d) {
            Some(merged) => {
                tx.execute(&write, &[&d.domain, &d.day, &merged])
                    .map_err(pg)?;
            }
            // The reports of this transaction are stored already: the
            // rebuild counts them.
            None => rebuild_parts(tx, &[(d.domain.clone(), d.day)])?,
        }
    }
    Ok(())
}

/// Rebuilds the summary parts of `keys` from the reports stored now, in
/// `tx` (after pruning). Each part's row is locked before its reports are
/// read, so a report stored meanwhile by another node is either read here
/// or merged into the rebuilt part after this commits.
fn rebuild_parts(tx: &mut Transaction<'_>, keys: &[(String, i64)]) -> Result<(), StoreError> {
    let lock = tx
        .prepare("SELECT 1 FROM inbox_summary_parts WHERE domain = $1 AND day = $2 FOR UPDATE")
        .map_err(pg)?;
    let read = tx
        .prepare(
            "SELECT r.json FROM inbox_report_list l JOIN inbox_reports r \
             ON r.id = l.report_ref WHERE l.domain = $1 AND l.day = $2 ORDER BY r.id",
        )
        .map_err(pg)?;
    let write = tx.prepare(UPSERT_PART).map_err(pg)?;
    for (domain, day) in keys {
        tx.execute(&lock, &[domain, day]).map_err(pg)?;
        let mut builder = crate::inbox::summary::PartBuilder::default();
        for row in tx.query(&read, &[domain, day]).map_err(pg)? {
            let json: String = row.try_get(0).map_err(pg)?;
            builder.add(&json, Some(domain))?;
        }
        let built = builder.take();
        if built.is_empty() {
            tx.execute(
                "DELETE FROM inbox_summary_parts WHERE domain = $1 AND day = $2",
                &[domain, day],
            )
            .map_err(pg)?;
        }
        for ((domain, day), json) in built {
            tx.execute(&write, &[&domain, &day, &json]).map_err(pg)?;
        }
    }
    Ok(())
}

/// Adds `deltas` to `inbox_failure_sums`, in `tx`.
fn add_sums(tx: &mut Transaction<'_>, deltas: &[FailureSumDelta]) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare(UPSERT_SUM).map_err(pg)?;
    for d in deltas {
        tx.execute(
            &stmt,
            &[
                &d.domain,
                &d.kind.as_str(),
                &d.day,
                &d.key,
                &d.failed,
                &d.details,
            ],
        )
        .map_err(pg)?;
    }
    Ok(())
}

/// One report of [`InboxStore::put_reports`], in `tx`.
fn put_in(tx: &mut Transaction<'_>, r: &NewReport) -> Result<PutOutcome, StoreError> {
    let inserted = tx
        .query_opt(
            "INSERT INTO inbox_reports (organization, report_id, start_day, raw_gz, json, \
                 dkim, dkim_domain, source, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (organization, report_id) DO NOTHING RETURNING id",
            &[
                &r.organization,
                &r.report_id,
                &r.start_day,
                &r.raw_gz,
                &r.json,
                &r.dkim.status.as_str(),
                &r.dkim.domain,
                &r.source,
                &r.received_at,
            ],
        )
        .map_err(pg)?;
    let (id, outcome): (i64, PutOutcome) = match inserted {
        Some(row) => (row.try_get(0).map_err(pg)?, PutOutcome::Stored),
        None => {
            let row = tx
                .query_one(
                    "SELECT id FROM inbox_reports WHERE organization = $1 AND report_id = $2",
                    &[&r.organization, &r.report_id],
                )
                .map_err(pg)?;
            (row.try_get(0).map_err(pg)?, PutOutcome::Duplicate)
        }
    };
    if outcome == PutOutcome::Stored {
        if !r.policies.is_empty() {
            let stmt = tx
                .prepare(
                    "INSERT INTO inbox_policies (report_ref, domain, day, policy_type, \
                         successful, failed) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .map_err(pg)?;
            for p in &r.policies {
                tx.execute(
                    &stmt,
                    &[
                        &id,
                        &p.domain,
                        &p.day,
                        &p.policy_type,
                        &to_i64(p.successful),
                        &to_i64(p.failed),
                    ],
                )
                .map_err(pg)?;
            }
        }
        if !r.failures.is_empty() {
            let stmt = tx
                .prepare(
                    "INSERT INTO inbox_failures (report_ref, domain, day, result_type, \
                         mx_host, sending_ip, organization, failed) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .map_err(pg)?;
            for f in &r.failures {
                tx.execute(
                    &stmt,
                    &[
                        &id,
                        &f.domain,
                        &f.day,
                        &f.result_type,
                        &f.mx_host,
                        &f.sending_ip,
                        &f.organization,
                        &to_i64(f.failed),
                    ],
                )
                .map_err(pg)?;
            }
        }
        let list = r.list_rows();
        if !list.is_empty() {
            let stmt = tx.prepare(INSERT_LIST).map_err(pg)?;
            for l in list {
                tx.execute(
                    &stmt,
                    &[
                        &id,
                        &l.domain,
                        &l.day,
                        &r.organization,
                        &r.report_id,
                        &r.start,
                        &r.end,
                        &to_i64(l.successful),
                        &to_i64(l.failed),
                        &r.received_at,
                    ],
                )
                .map_err(pg)?;
            }
        }
    }
    if outcome == PutOutcome::Duplicate {
        tx.execute(
            "INSERT INTO inbox_duplicates (report_ref) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&id],
        )
        .map_err(pg)?;
    }
    tx.execute(
        "INSERT INTO inbox_receipts (report_ref, source, dkim, dkim_domain, received_at) \
             VALUES ($1, $2, $3, $4, $5)",
        &[
            &id,
            &r.source,
            &r.dkim.status.as_str(),
            &r.dkim.domain,
            &r.received_at,
        ],
    )
    .map_err(pg)?;
    Ok(outcome)
}

impl InboxStore for PgSiteStore {
    fn put_reports(&self, reports: &[NewReport]) -> Result<Vec<PutOutcome>, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        let mut out = Vec::with_capacity(reports.len());
        for r in reports {
            out.push(put_in(&mut tx, r)?);
        }
        let stored = reports
            .iter()
            .zip(&out)
            .filter(|(_, o)| **o == PutOutcome::Stored)
            .map(|(r, _)| r);
        add_sums(&mut tx, &batch_failure_sums(stored.clone()))?;
        add_parts(&mut tx, &batch_parts(stored))?;
        tx.commit().map_err(pg)?;
        Ok(out)
    }

    fn summary_inputs(&self, query: &ReportQuery) -> Result<SummaryInputs, StoreError> {
        let (since, until) = query.days();
        let all = query.domains.is_empty();
        let (parts_sql, counts_sql, groups_sql, dups_sql) = if all {
            (
                "SELECT domain, day, part FROM inbox_summary_parts WHERE day BETWEEN $1 AND $2",
                "SELECT domain, day, count(*) FROM inbox_report_list WHERE day BETWEEN $1 AND $2 \
                 GROUP BY domain, day",
                "SELECT organization, start_day, count(*) FROM inbox_reports \
                 WHERE start_day BETWEEN $1 AND $2 GROUP BY organization, start_day",
                "SELECT r.id, r.organization, r.report_id, r.json FROM inbox_duplicates d \
                 JOIN inbox_reports r ON r.id = d.report_ref WHERE r.start_day BETWEEN $1 AND $2",
            )
        } else {
            (
                "SELECT domain, day, part FROM inbox_summary_parts WHERE domain = ANY($3) \
                 AND day BETWEEN $1 AND $2",
                "SELECT domain, day, count(*) FROM inbox_report_list WHERE domain = ANY($3) \
                 AND day BETWEEN $1 AND $2 GROUP BY domain, day",
                "SELECT organization, day, count(*) FROM (SELECT DISTINCT report_ref, \
                 organization, day FROM inbox_report_list WHERE domain = ANY($3) \
                 AND day BETWEEN $1 AND $2) s GROUP BY organization, day",
                "SELECT r.id, r.organization, r.report_id, r.json FROM inbox_duplicates d \
                 JOIN inbox_reports r ON r.id = d.report_ref WHERE EXISTS (SELECT 1 FROM \
                 inbox_report_list l WHERE l.report_ref = d.report_ref AND l.domain = ANY($3) \
                 AND l.day BETWEEN $1 AND $2)",
            )
        };
        self.read(|tx| {
            let query_all = |tx: &mut Transaction<'_>, sql: &str| {
                if all {
                    tx.query(sql, &[&since, &until])
                } else {
                    tx.query(sql, &[&since, &until, &query.domains])
                }
                .map_err(pg)
            };
            let mut inputs = SummaryInputs::default();
            for row in query_all(tx, parts_sql)? {
                inputs.parts.push((
                    row.try_get(0).map_err(pg)?,
                    row.try_get(1).map_err(pg)?,
                    row.try_get(2).map_err(pg)?,
                ));
            }
            for row in query_all(tx, counts_sql)? {
                let n: i64 = row.try_get(2).map_err(pg)?;
                inputs.report_counts.push((
                    row.try_get(0).map_err(pg)?,
                    row.try_get(1).map_err(pg)?,
                    to_u64(n),
                ));
            }
            for row in query_all(tx, groups_sql)? {
                let n: i64 = row.try_get(2).map_err(pg)?;
                inputs.report_groups.push((
                    row.try_get(0).map_err(pg)?,
                    row.try_get(1).map_err(pg)?,
                    to_u64(n),
                ));
            }
            let sources = tx
                .prepare("SELECT source FROM inbox_receipts WHERE report_ref = $1 ORDER BY id")
                .map_err(pg)?;
            for row in query_all(tx, dups_sql)? {
                let id: i64 = row.try_get(0).map_err(pg)?;
                let list = tx
                    .query(&sources, &[&id])
                    .map_err(pg)?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()
                    .map_err(pg)?;
                inputs.duplicates.push(DuplicateRow {
                    organization: row.try_get(1).map_err(pg)?,
                    report_id: row.try_get(2).map_err(pg)?,
                    json: row.try_get(3).map_err(pg)?,
                    sources: list,
                });
            }
            let n: i64 = tx
                .query_one("SELECT count(*) FROM inbox_receipts", &[])
                .map_err(pg)?
                .try_get(0)
                .map_err(pg)?;
            inputs.receipts = to_u64(n);
            Ok(inputs)
        })
    }

    fn for_each_receipt(
        &self,
        query: &ReportQuery,
        f: &mut dyn FnMut(Receipt) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let (since, until) = query.days();
        let rows = self.read(|tx| {
            let rows = if query.domains.is_empty() {
                tx.query(
                    "SELECT c.source, r.json FROM inbox_receipts c JOIN inbox_reports r \
                     ON r.id = c.report_ref WHERE r.start_day BETWEEN $1 AND $2 ORDER BY c.id",
                    &[&since, &until],
                )
            } else {
                tx.query(
                    "SELECT c.source, r.json FROM inbox_receipts c JOIN inbox_reports r \
                     ON r.id = c.report_ref WHERE r.id IN (SELECT report_ref FROM inbox_policies \
                     WHERE domain = ANY($3) AND day BETWEEN $1 AND $2) ORDER BY c.id",
                    &[&since, &until, &query.domains],
                )
            };
            rows.map_err(pg)
        })?;
        for row in rows {
            let receipt = Receipt {
                source: row.try_get(0).map_err(pg)?,
                json: row.try_get(1).map_err(pg)?,
            };
            if !f(receipt)? {
                break;
            }
        }
        Ok(())
    }

    fn repair_parts(&self, keys: &[(String, i64)]) -> Result<(), StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        rebuild_parts(&mut tx, keys)?;
        tx.commit().map_err(pg)
    }

    fn stored_report(
        &self,
        organization: &str,
        report_id: &str,
    ) -> Result<Option<StoredReport>, StoreError> {
        let row = self.read(|tx| {
            tx.query_opt(
                "SELECT start_day, raw_gz, json, dkim, dkim_domain, source, received_at, \
                 (SELECT count(*) FROM inbox_receipts WHERE report_ref = r.id) \
                 FROM inbox_reports r WHERE organization = $1 AND report_id = $2",
                &[&organization, &report_id],
            )
            .map_err(pg)
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let dkim: String = row.try_get(3).map_err(pg)?;
        let n: i64 = row.try_get(7).map_err(pg)?;
        Ok(Some(StoredReport {
            organization: organization.to_owned(),
            report_id: report_id.to_owned(),
            start_day: row.try_get(0).map_err(pg)?,
            raw_gz: row.try_get(1).map_err(pg)?,
            json: row.try_get(2).map_err(pg)?,
            dkim: dkim_of(&dkim, row.try_get(4).map_err(pg)?)?,
            source: row.try_get(5).map_err(pg)?,
            received_at: row.try_get(6).map_err(pg)?,
            receipts: to_u64(n),
        }))
    }

    fn inbox_stats(&self) -> Result<InboxStats, StoreError> {
        let row = self.read(|tx| {
            tx.query_one(
                "SELECT (SELECT count(*) FROM inbox_reports), (SELECT count(*) FROM inbox_receipts), \
                 (SELECT count(*) FROM inbox_policies), (SELECT count(*) FROM inbox_failures)",
                &[],
            )
            .map_err(pg)
        })?;
        let get = |i: usize| -> Result<u64, StoreError> {
            Ok(to_u64(row.try_get::<_, i64>(i).map_err(pg)?))
        };
        Ok(InboxStats {
            reports: get(0)?,
            receipts: get(1)?,
            policy_rows: get(2)?,
            failure_rows: get(3)?,
        })
    }

    fn prune(&self, before_day: i64) -> Result<u64, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        // One prune at a time: two would both lower the sums of the same
        // rows.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PRUNE_LOCK])
            .map_err(pg)?;
        let pruned = tx
            .query(
                "SELECT domain, day, result_type, mx_host, sending_ip, organization, \
                 sum(failed)::BIGINT, count(*) FROM inbox_failures WHERE report_ref IN \
                 (SELECT id FROM inbox_reports WHERE received_at < $1) \
                 GROUP BY domain, day, result_type, mx_host, sending_ip, organization",
                &[&before_day.saturating_mul(86_400)],
            )
            .map_err(pg)?;
        if !pruned.is_empty() {
            let pruned: Vec<PrunedGroup> = pruned
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get(0).map_err(pg)?,
                        r.try_get(1).map_err(pg)?,
                        r.try_get(2).map_err(pg)?,
                        r.try_get(3).map_err(pg)?,
                        r.try_get(4).map_err(pg)?,
                        r.try_get(5).map_err(pg)?,
                        r.try_get(6).map_err(pg)?,
                        r.try_get(7).map_err(pg)?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            let deltas = prune_deltas(&pruned);
            add_sums(&mut tx, &deltas)?;
            tx.execute("DELETE FROM inbox_failure_sums WHERE details <= 0", &[])
                .map_err(pg)?;
        }
        let touched: Vec<(String, i64)> = tx
            .query(
                "SELECT DISTINCT domain, day FROM inbox_report_list WHERE report_ref IN \
                 (SELECT id FROM inbox_reports WHERE received_at < $1) ORDER BY domain, day",
                &[&before_day.saturating_mul(86_400)],
            )
            .map_err(pg)?
            .iter()
            .map(|r| Ok((r.try_get(0).map_err(pg)?, r.try_get(1).map_err(pg)?)))
            .collect::<Result<_, StoreError>>()?;
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
                     (SELECT id FROM inbox_reports WHERE received_at < $1)"
                ),
                &[&before_day.saturating_mul(86_400)],
            )
            .map_err(pg)?;
        }
        let n = tx
            .execute(
                "DELETE FROM inbox_reports WHERE received_at < $1",
                &[&before_day.saturating_mul(86_400)],
            )
            .map_err(pg)?;
        rebuild_parts(&mut tx, &touched)?;
        tx.commit().map_err(pg)?;
        Ok(n)
    }

    fn claim_prune(&self, now: i64, every: i64) -> Result<bool, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        tx.execute(
            "INSERT INTO inbox_state (key, value) VALUES ('last_prune', $1) \
             ON CONFLICT (key) DO NOTHING",
            &[&0_i64],
        )
        .map_err(pg)?;
        // Row-locked: of two nodes, the second sees the first's update.
        let n = tx
            .execute(
                "UPDATE inbox_state SET value = $1 WHERE key = 'last_prune' \
                 AND $1 - value >= $2",
                &[&now, &every],
            )
            .map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(n > 0)
    }

    fn failure_counts(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<FailureCount>, StoreError> {
        let (since, until) = query.days();
        let params: [&(dyn ToSql + Sync); 3] = [&domain, &since, &until];
        let rows = self.read(|tx| {
            tx.query(
                "SELECT day, result_type, mx_host, sending_ip, organization, sum(failed)::BIGINT \
                 FROM inbox_failures WHERE domain = $1 AND day BETWEEN $2 AND $3 \
                 GROUP BY day, result_type, mx_host, sending_ip, organization \
                 ORDER BY day, result_type, mx_host NULLS FIRST, sending_ip NULLS FIRST, organization",
                &params,
            )
            .map_err(pg)
        })?;
        rows.iter()
            .map(|r| {
                Ok(FailureCount {
                    day: r.try_get(0).map_err(pg)?,
                    result_type: r.try_get(1).map_err(pg)?,
                    mx_host: r.try_get(2).map_err(pg)?,
                    sending_ip: r.try_get(3).map_err(pg)?,
                    organization: r.try_get(4).map_err(pg)?,
                    failed: to_u64(r.try_get(5).map_err(pg)?),
                })
            })
            .collect()
    }

    fn session_totals(
        &self,
        query: &ReportQuery,
    ) -> Result<std::collections::HashMap<String, (u64, u64)>, StoreError> {
        let (since, until) = query.days();
        let params: [&(dyn ToSql + Sync); 2] = [&since, &until];
        let rows = self.read(|tx| {
            tx.query(
                "SELECT domain, sum(successful)::BIGINT, sum(failed)::BIGINT FROM inbox_policies \
                 WHERE day BETWEEN $1 AND $2 GROUP BY domain",
                &params,
            )
            .map_err(pg)
        })?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0).map_err(pg)?,
                    (
                        to_u64(r.try_get(1).map_err(pg)?),
                        to_u64(r.try_get(2).map_err(pg)?),
                    ),
                ))
            })
            .collect()
    }

    fn policy_counts(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<PolicyCount>, StoreError> {
        let (since, until) = query.days();
        let params: [&(dyn ToSql + Sync); 3] = [&domain, &since, &until];
        let rows = self.read(|tx| {
            tx.query(
                "SELECT day, policy_type, count(*), sum(successful)::BIGINT, sum(failed)::BIGINT \
                 FROM inbox_policies WHERE domain = $1 AND day BETWEEN $2 AND $3 \
                 GROUP BY day, policy_type ORDER BY day, policy_type",
                &params,
            )
            .map_err(pg)
        })?;
        rows.iter()
            .map(|r| {
                Ok(PolicyCount {
                    day: r.try_get(0).map_err(pg)?,
                    policy_type: r.try_get(1).map_err(pg)?,
                    policies: to_u64(r.try_get(2).map_err(pg)?),
                    successful: to_u64(r.try_get(3).map_err(pg)?),
                    failed: to_u64(r.try_get(4).map_err(pg)?),
                })
            })
            .collect()
    }

    fn failure_sums(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<FailureSum>, StoreError> {
        let (since, until) = query.days();
        let params: [&(dyn ToSql + Sync); 3] = [&domain, &since, &until];
        let rows = self.read(|tx| {
            tx.query(
                "SELECT kind, key, sum(failed)::BIGINT FROM inbox_failure_sums \
                 WHERE domain = $1 AND day BETWEEN $2 AND $3 GROUP BY kind, key \
                 ORDER BY kind COLLATE \"C\", key COLLATE \"C\"",
                &params,
            )
            .map_err(pg)
        })?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(0).map_err(pg)?;
                Ok(FailureSum {
                    kind: kind_of(&kind)?,
                    key: r.try_get(1).map_err(pg)?,
                    failed: to_u64(r.try_get(2).map_err(pg)?),
                })
            })
            .collect()
    }

    fn report_list(
        &self,
        domain: &str,
        query: &ReportQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ListedReport>, StoreError> {
        let (since, until) = query.days();
        let (offset, limit) = (to_i64(offset), to_i64(limit));
        let params: [&(dyn ToSql + Sync); 5] = [&domain, &since, &until, &limit, &offset];
        let rows = self.read(|tx| {
            tx.query(
                "SELECT organization, report_id, start_time, end_time, successful, failed, \
                 received_at FROM inbox_report_list WHERE domain = $1 AND day BETWEEN $2 AND $3 \
                 ORDER BY report_ref LIMIT $4 OFFSET $5",
                &params,
            )
            .map_err(pg)
        })?;
        rows.iter()
            .map(|r| {
                Ok(ListedReport {
                    organization: r.try_get(0).map_err(pg)?,
                    report_id: r.try_get(1).map_err(pg)?,
                    start: r.try_get(2).map_err(pg)?,
                    end: r.try_get(3).map_err(pg)?,
                    successful: to_u64(r.try_get(4).map_err(pg)?),
                    failed: to_u64(r.try_get(5).map_err(pg)?),
                    received_at: r.try_get(6).map_err(pg)?,
                })
            })
            .collect()
    }
}
