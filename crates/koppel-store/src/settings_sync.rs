//! What settings sync needs from the store besides plain record writes: which daily data still uses
//! a settings code (so a removal can be refused before it is tried), and when each sub last
//! received settings from its main.

use crate::sql::{on_pool, on_tx};
use crate::{Result, Store, Tx, WriteTx};
use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_domain::record::{Area, FieldKind, ResourceSpec};
use koppel_domain::resources;
use sqlx::AssertSqlSafe;

/// When a sub last received settings from its main, and in which run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSync {
    pub target: AdministrationId,
    pub at: DateTime<Utc>,
    pub run: i64,
}

impl Tx {
    /// The daily-data resources of an administration that refer to a settings item by its code
    /// (work orders of a work type, hour lines of an hour type), as their specs.
    pub async fn daily_users_of_code(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        code: &str,
    ) -> Result<Vec<&'static ResourceSpec>> {
        let mut users = Vec::new();
        for other in resources::ALL.iter().filter(|s| s.area == Area::Daily) {
            for field in other.fields {
                if field.kind != FieldKind::CodeRef(spec.slug) {
                    continue;
                }
                let statement = format!(
                    "SELECT 1 FROM {} WHERE administration_id = $1 AND {} = $2 LIMIT 1",
                    other.table, field.name
                );
                let found: Option<i32> = on_tx!(self, conn => sqlx::query_scalar(AssertSqlSafe(statement))
                    .bind(administration.0)
                    .bind(code.to_string())
                    .fetch_optional(conn)
                    .await)?;
                if found.is_some() && !users.iter().any(|u: &&ResourceSpec| u.slug == other.slug) {
                    users.push(*other);
                }
            }
        }
        Ok(users)
    }
}

impl WriteTx {
    /// Notes, in the transaction that applies them, that this administration received settings
    /// from `source` in `run`.
    pub async fn record_settings_received(&mut self, source: AdministrationId, run: i64) -> Result<()> {
        let (target, now) = (self.administration, self.tx.now);
        record(&mut self.tx, source, target, now, run).await
    }
}

async fn record(
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

impl Store {
    /// Notes a sync that changed nothing (no write transaction on the target was needed).
    pub async fn record_settings_received(
        &self,
        source: AdministrationId,
        target: AdministrationId,
        run: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        record(&mut tx, source, target, now, run).await?;
        tx.commit().await
    }

    /// When each sub of `source` last received settings.
    pub async fn settings_last_synced(&self, source: AdministrationId) -> Result<Vec<LastSync>> {
        let rows: Vec<(i64, DateTime<Utc>, i64)> = on_pool!(self.pool(), pool => sqlx::query_as(
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
}
