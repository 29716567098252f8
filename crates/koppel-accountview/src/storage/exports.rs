//! The export ledger, which makes exports exactly-once: a row per work order is written before its
//! invoice is posted and only ever moves forward; it survives a disconnect, so reconnecting never
//! exports a work order twice. Finishing an export moves the work order's status in the same
//! transaction as the ledger row.

use chrono::{DateTime, Utc};
use koppel_domain::resources::INVOICES;
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, RecordId};
use koppel_store::records::StoredRecord;
use koppel_store::sql::{AssertSqlSafe, on_pool, on_tx};
use koppel_store::{Result, Store, StoreError, Tx, WriteTx};
use serde::Serialize;

/// Where the export of one work order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    /// Recorded before posting; the invoice may or may not be in AccountView.
    Intent,
    Exported,
    /// AccountView refused the invoice; the work order shows the reason.
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Intent => "intent",
            ExportState::Exported => "exported",
            ExportState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> ExportState {
        match text {
            "exported" => ExportState::Exported,
            "failed" => ExportState::Failed,
            _ => ExportState::Intent,
        }
    }
}

/// One row of the export ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRecord {
    pub work_order: RecordId,
    pub invoice: RecordId,
    pub invoice_number: String,
    pub company_id: String,
    pub state: ExportState,
    pub total_excl_vat_cents: i64,
    pub total_vat_cents: i64,
    /// How often a POST was started; more than zero means "read back before posting again".
    pub post_attempts: i64,
    pub error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    work_order_id: i64,
    invoice_id: i64,
    invoice_number: String,
    company_id: String,
    state: String,
    total_excl_vat: i64,
    total_vat: i64,
    post_attempts: i64,
    error: Option<String>,
}

impl From<ExportRow> for ExportRecord {
    fn from(row: ExportRow) -> ExportRecord {
        ExportRecord {
            work_order: RecordId(row.work_order_id),
            invoice: RecordId(row.invoice_id),
            invoice_number: row.invoice_number,
            company_id: row.company_id,
            state: ExportState::parse(&row.state),
            total_excl_vat_cents: row.total_excl_vat,
            total_vat_cents: row.total_vat,
            post_attempts: row.post_attempts,
            error: row.error,
        }
    }
}

const EXPORT_COLUMNS: &str =
    "work_order_id, invoice_id, invoice_number, company_id, state, total_excl_vat, total_vat, post_attempts, error";

/// Which work orders are ready for export: one batch of them.
#[derive(Debug, Clone, Copy)]
pub struct Candidates {
    /// The status that makes a work order ready.
    pub status: WorkOrderStatus,
    /// Only work orders completed at or after this moment.
    pub completed_since: DateTime<Utc>,
    /// Keyset cursor: only work orders with a larger id.
    pub after: RecordId,
    pub limit: u32,
}

/// Work orders that are ready for export and were not exported yet, by id.
pub async fn export_candidates(
    store: &Store,
    administration: AdministrationId,
    query: Candidates,
) -> Result<Vec<RecordId>> {
    let ids: Vec<i64> = on_pool!(store.pool(), pool => sqlx::query_scalar(
        "SELECT w.id FROM work_orders w WHERE w.administration_id = $1 AND w.status = $2 \
         AND w.completed_at >= $3 AND w.id > $4 AND NOT EXISTS (SELECT 1 FROM accountview_exports e \
         WHERE e.administration_id = w.administration_id AND e.work_order_id = w.id AND e.state = 'exported') \
         ORDER BY w.id LIMIT $5",
    )
    .bind(administration.0)
    .bind(query.status.as_str())
    .bind(query.completed_since)
    .bind(query.after.0)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await)?;
    Ok(ids.into_iter().map(RecordId).collect())
}

/// How many work orders are ready for export and were not exported yet (a run's total, for its
/// progress bar).
pub async fn count_export_candidates(
    store: &Store,
    administration: AdministrationId,
    status: WorkOrderStatus,
    completed_since: DateTime<Utc>,
) -> Result<u64> {
    let count: i64 = on_pool!(store.pool(), pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM work_orders w WHERE w.administration_id = $1 AND w.status = $2 \
         AND w.completed_at >= $3 AND NOT EXISTS (SELECT 1 FROM accountview_exports e \
         WHERE e.administration_id = w.administration_id AND e.work_order_id = w.id AND e.state = 'exported')",
    )
    .bind(administration.0)
    .bind(status.as_str())
    .bind(completed_since)
    .fetch_one(pool)
    .await)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub async fn export(
    store: &Store,
    administration: AdministrationId,
    work_order: RecordId,
) -> Result<Option<ExportRecord>> {
    let statement =
        format!("SELECT {EXPORT_COLUMNS} FROM accountview_exports WHERE administration_id = $1 AND work_order_id = $2");
    let row: Option<ExportRow> = on_pool!(store.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
        .bind(administration.0)
        .bind(work_order.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(ExportRecord::from))
}

/// Every exported invoice of an administration (for the payment status import).
pub async fn exported(store: &Store, administration: AdministrationId) -> Result<Vec<ExportRecord>> {
    let statement = format!(
        "SELECT {EXPORT_COLUMNS} FROM accountview_exports WHERE administration_id = $1 AND state = 'exported' \
         ORDER BY work_order_id"
    );
    let rows: Vec<ExportRow> = on_pool!(store.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
        .bind(administration.0)
        .fetch_all(pool)
        .await)?;
    Ok(rows.into_iter().map(ExportRecord::from).collect())
}

/// Notes that a POST of this work order's invoice is about to start (before it is sent).
pub async fn export_posting(store: &Store, administration: AdministrationId, work_order: RecordId) -> Result<()> {
    let now = store.now();
    on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE accountview_exports SET post_attempts = post_attempts + 1, updated_at = $3 \
         WHERE administration_id = $1 AND work_order_id = $2",
    )
    .bind(administration.0)
    .bind(work_order.0)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a refusal by AccountView: the ledger row fails and the work order moves to Exportfout
/// with the reason, in one transaction.
pub async fn export_failed(
    store: &Store,
    administration: AdministrationId,
    work_order: RecordId,
    reason: &str,
) -> Result<()> {
    let mut tx = store.write(administration).await?;
    let now = tx.now();
    set_export_state(
        tx.tx(),
        administration,
        work_order,
        ExportState::Failed,
        Some(reason),
        now,
    )
    .await?;
    tx.set_work_order_export_error(work_order, reason).await?;
    tx.commit().await
}

/// Records a confirmed export: the ledger row is exported and the work order moves to `done_status`,
/// in one transaction.
pub async fn export_done(
    store: &Store,
    administration: AdministrationId,
    work_order: RecordId,
    done_status: WorkOrderStatus,
) -> Result<()> {
    let mut tx = store.write(administration).await?;
    let now = tx.now();
    set_export_state(tx.tx(), administration, work_order, ExportState::Exported, None, now).await?;
    tx.set_work_order_status(work_order, done_status).await?;
    tx.commit().await
}

async fn set_export_state(
    tx: &mut Tx,
    administration: AdministrationId,
    work_order: RecordId,
    state: ExportState,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let exported_at = (state == ExportState::Exported).then_some(now);
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE accountview_exports SET state = $3, error = $4, updated_at = $5, exported_at = $6 \
         WHERE administration_id = $1 AND work_order_id = $2 AND state <> 'exported'",
    )
    .bind(administration.0)
    .bind(work_order.0)
    .bind(state.as_str())
    .bind(error)
    .bind(now)
    .bind(exported_at)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Err(StoreError::conflict(
            "export_not_open",
            "this work order has no open export (it was exported already)",
        ));
    }
    Ok(())
}

/// Where a work order's invoice goes and under which number; what [`open_export`] records.
#[derive(Debug, Clone, Copy)]
pub struct ExportTarget<'a> {
    /// The AccountView administration.
    pub company_id: &'a str,
    /// Put before Koppel's invoice number, so it never collides with AccountView's own numbers.
    pub invoice_number_prefix: &'a str,
    /// The payment term of an invoice made now.
    pub payment_term_days: i64,
}

/// Opens the export of a work order: makes its Koppel invoice if it has none yet and records the
/// intent to post it under the target's prefix + the invoice number. An open intent is kept as it
/// is (it may have been posted already); a failed one is opened again.
pub async fn open_export(
    tx: &mut WriteTx,
    work_order: RecordId,
    target: ExportTarget<'_>,
) -> Result<(ExportRecord, StoredRecord)> {
    let administration = tx.administration;
    let now = tx.now();
    let existing_invoice: Option<i64> = on_tx!(tx.tx(), conn => sqlx::query_scalar(
        "SELECT id FROM invoices WHERE administration_id = $1 AND work_order_id = $2",
    )
    .bind(administration.0)
    .bind(work_order.0)
    .fetch_optional(conn)
    .await)?;
    let invoice = match existing_invoice {
        Some(id) => tx.tx().get_record(administration, &INVOICES, RecordId(id)).await?,
        None => tx.invoice_work_order(work_order, target.payment_term_days).await?,
    };
    let number = format!(
        "{}{}",
        target.invoice_number_prefix,
        invoice.get(&INVOICES, "number").as_str().unwrap_or_default()
    );
    let excl = invoice.get(&INVOICES, "total_excl_vat").as_i64().unwrap_or_default();
    let vat = invoice.get(&INVOICES, "total_vat").as_i64().unwrap_or_default();
    on_tx!(tx.tx(), conn => sqlx::query(
        "INSERT INTO accountview_exports (administration_id, work_order_id, invoice_id, invoice_number, company_id, \
         state, total_excl_vat, total_vat, post_attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'intent', $6, $7, 0, $8, $8) \
         ON CONFLICT (administration_id, work_order_id) DO UPDATE SET state = 'intent', error = NULL, \
         updated_at = excluded.updated_at WHERE accountview_exports.state = 'failed'",
    )
    .bind(administration.0)
    .bind(work_order.0)
    .bind(invoice.id.0)
    .bind(&number)
    .bind(target.company_id)
    .bind(excl)
    .bind(vat)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    let statement =
        format!("SELECT {EXPORT_COLUMNS} FROM accountview_exports WHERE administration_id = $1 AND work_order_id = $2");
    let row: ExportRow = on_tx!(tx.tx(), conn => sqlx::query_as(AssertSqlSafe(statement))
        .bind(administration.0)
        .bind(work_order.0)
        .fetch_one(conn)
        .await)?;
    Ok((ExportRecord::from(row), invoice))
}
