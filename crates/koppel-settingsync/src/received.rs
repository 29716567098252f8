//! When each sub last received settings from its main, and in which run (the targets overview shows
//! it). Written in the transaction that applies a target's plan, or on its own when the plan changed
//! nothing.

use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_store::{Result, Store, Tx, WriteTx, on_pool, on_tx};

/// When a sub last received settings from its main, and in which run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSync {
    pub target: AdministrationId,
    pub at: DateTime<Utc>,
    pub run: i64,
}

/// Notes, in the transaction that applies them, that the write's administration received settings
/// from `source` in `run`.
pub async fn record_in(write: &mut WriteTx, source: AdministrationId, run: i64) -> Result<()> {
    let (target, now) = (write.administration, write.now());
    record_at(write.tx(), source, target, now, run).await
}

/// Notes a sync that changed nothing (no write transaction on the target was needed).
pub async fn record(store: &Store, source: AdministrationId, target: AdministrationId, run: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    let now = tx.now;
    record_at(&mut tx, source, target, now, run).await?;
    tx.commit().await
}

async fn record_at(
    tx: &mut Tx,
    source: AdministrationId,
    target: AdministrationId,
    now: DateTime<Utc>,
    run: i64,
) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO settings_sync_targets (source_id, target_id, last_synced_at, run_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source_id, target_id) DO UPDATE SET last_synced_at = excluded.last_synced_at, run_id = excluded.run_id",
    )
    .bind(source.0)
    .bind(target.0)
    .bind(now)
    .bind(run)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether `target` last received settings from `source` in `run` (a repeated attempt of that run
/// finds its work done).
pub async fn applied_in(store: &Store, source: AdministrationId, target: AdministrationId, run: i64) -> Result<bool> {
    let found: Option<i64> = on_pool!(store.pool(), pool => sqlx::query_scalar(
        "SELECT run_id FROM settings_sync_targets WHERE source_id = $1 AND target_id = $2",
    )
    .bind(source.0)
    .bind(target.0)
    .fetch_optional(pool)
    .await)?;
    Ok(found == Some(run))
}

/// When each sub of `source` last received settings.
pub async fn last_synced(store: &Store, source: AdministrationId) -> Result<Vec<LastSync>> {
    let rows: Vec<(i64, DateTime<Utc>, i64)> = on_pool!(store.pool(), pool => sqlx::query_as(
        "SELECT target_id, last_synced_at, run_id FROM settings_sync_targets WHERE source_id = $1",
    )
    .bind(source.0)
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(target, at, run)| LastSync {
            target: AdministrationId(target),
            at,
            run,
        })
        .collect())
}
