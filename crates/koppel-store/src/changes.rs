//! Change tracking: "every change to this administration since position P", consistently.
//!
//! Each write transaction takes the administration's next position from `change_counters` before it
//! writes anything and stamps every row it touches (and every tombstone it leaves) with it. Because
//! the counter row stays locked until the transaction ends (PostgreSQL) or writers are serialised
//! outright (SQLite `BEGIN IMMEDIATE`), a position becomes visible only after every smaller position
//! of the same administration has committed or rolled back. A reader that reads the counter and the
//! rows in one snapshot therefore never skips a transaction that committed late with an early
//! position: the classic sequence/commit-order gap cannot occur.

use crate::records::{decode_record, sql};
use crate::sql::on_tx;
use crate::{Result, Store, Tx};
use chrono::{DateTime, Utc};
use koppel_domain::record::ResourceSpec;
use koppel_domain::{AdministrationId, RecordId};
use sqlx::AssertSqlSafe;

pub use crate::records::StoredRecord;

/// A record that was deleted, as its tombstone tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub id: RecordId,
    pub change_seq: i64,
    pub deleted_at: DateTime<Utc>,
}

impl Tx {
    /// The administration's latest committed change position, as this transaction's snapshot sees it.
    pub async fn change_position(&mut self, administration: AdministrationId) -> Result<i64> {
        let position: Option<i64> = on_tx!(self, conn => sqlx::query_scalar(
            "SELECT position FROM change_counters WHERE administration_id = $1",
        )
        .bind(administration.0)
        .fetch_optional(conn)
        .await)?;
        position.ok_or(crate::StoreError::NotFound)
    }

    /// Records of one resource written after position `after`, in id order, from id `after_id` on.
    /// Page through with the last id returned until fewer than `limit` come back.
    pub async fn changed_records(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        after: i64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        let statement = format!(
            "SELECT {} FROM {} WHERE administration_id = $1 AND change_seq > $2 AND id > $3 ORDER BY id LIMIT $4",
            sql(spec).columns,
            spec.table
        );
        let records = on_tx!(self, conn => {
            let rows = sqlx::query(AssertSqlSafe(statement))
                .bind(administration.0)
                .bind(after)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?;
            rows.iter().map(|row| decode_record(row, spec)).collect::<Result<Vec<_>, _>>()?
        });
        Ok(records)
    }

    /// Records of one resource deleted after position `after`.
    pub async fn deleted_records(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        after: i64,
    ) -> Result<Vec<Deletion>> {
        let rows: Vec<(i64, i64, DateTime<Utc>)> = on_tx!(self, conn => sqlx::query_as(
            "SELECT record_id, change_seq, deleted_at FROM tombstones \
             WHERE administration_id = $1 AND resource = $2 AND change_seq > $3 ORDER BY id",
        )
        .bind(administration.0)
        .bind(spec.slug)
        .bind(after)
        .fetch_all(conn)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, change_seq, deleted_at)| Deletion {
                id: RecordId(id),
                change_seq,
                deleted_at,
            })
            .collect())
    }
}

impl Store {
    /// Drops tombstones up to a position a consumer has durably taken in.
    pub async fn prune_tombstones(&self, administration: AdministrationId, up_to: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let result = on_tx!(tx, conn => sqlx::query(
            "DELETE FROM tombstones WHERE administration_id = $1 AND change_seq <= $2",
        )
        .bind(administration.0)
        .bind(up_to)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(result)
    }
}
