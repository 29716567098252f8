//! An administration's Data Sync state: the sync readers are pinned to, the Autosync setting, and
//! pruning of versions no reader can be pinned to any more.

use crate::dataset::{REPORTED, base_of};
use crate::job::KIND;
use chrono::{DateTime, Utc};
use koppel_domain::{AdministrationId, UserId};
use koppel_jobs::storage::schedules;
use koppel_store::sql::{AssertSqlSafe, on_pool, on_tx};
use koppel_store::{Result, Store, Tx};

/// Autosync on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutosyncSwitch {
    On,
    Off,
}

/// An administration's Data Sync state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSyncState {
    /// The sync readers are pinned to; 0 before the first sync.
    pub current_sync: i64,
    pub change_position: i64,
    /// When the current sync committed: the data is up to this moment.
    pub synced_at: Option<DateTime<Utc>>,
    /// Snapshots older than this are pruned.
    pub oldest_sync: i64,
    pub autosync: bool,
    pub autosync_changed_at: Option<DateTime<Utc>>,
    pub autosync_changed_by: Option<UserId>,
}

type StateRow = (
    i64,
    i64,
    Option<DateTime<Utc>>,
    i64,
    bool,
    Option<DateTime<Utc>>,
    Option<i64>,
);

fn state_from_row(row: StateRow) -> DataSyncState {
    let (current_sync, change_position, synced_at, oldest_sync, autosync, autosync_changed_at, by) = row;
    DataSyncState {
        current_sync,
        change_position,
        synced_at,
        oldest_sync,
        autosync,
        autosync_changed_at,
        autosync_changed_by: by.map(UserId),
    }
}

const SELECT_STATE: &str = "SELECT current_sync, change_position, synced_at, oldest_sync, autosync, \
     autosync_changed_at, autosync_changed_by FROM datasync_state WHERE administration_id = $1";

/// The administration's Data Sync state (all defaults before it was ever used).
pub async fn read(store: &Store, administration: AdministrationId) -> Result<DataSyncState> {
    let row: Option<StateRow> = on_pool!(store.pool(), pool => sqlx::query_as(SELECT_STATE)
        .bind(administration.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(state_from_row).unwrap_or_default())
}

/// Switches Autosync on or off. On: the administration gets a `data_sync` schedule, first due at
/// once; the scheduler applies the operator's interval from then on. Off: the schedule goes; the
/// history stays. Both in the transaction of the setting.
pub async fn set_autosync(
    store: &Store,
    administration: AdministrationId,
    switch: AutosyncSwitch,
    by: Option<UserId>,
) -> Result<DataSyncState> {
    let mut tx = store.begin().await?;
    let now = tx.now;
    ensure_state(&mut tx, administration).await?;
    on_tx!(tx, conn => sqlx::query(
        "UPDATE datasync_state SET autosync = $2, autosync_changed_at = $3, autosync_changed_by = $4 \
         WHERE administration_id = $1",
    )
    .bind(administration.0)
    .bind(switch == AutosyncSwitch::On)
    .bind(now)
    .bind(by.map(|u| u.0))
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    match switch {
        AutosyncSwitch::On => schedules::opt_in(&mut tx, KIND, administration).await?,
        AutosyncSwitch::Off => schedules::opt_out(&mut tx, KIND, administration).await?,
    }
    let row: StateRow = on_tx!(tx, conn => sqlx::query_as(SELECT_STATE)
        .bind(administration.0)
        .fetch_one(conn)
        .await)?;
    tx.commit().await?;
    Ok(state_from_row(row))
}

/// Removes versions no reader can be pinned to any more, and returns how many rows went.
///
/// A reader pinned to sync K may keep paging until `retention` after sync K+1 committed. So the
/// oldest readable sync is the one that was current `retention` ago.
pub async fn prune(store: &Store, administration: AdministrationId, retention: chrono::Duration) -> Result<u64> {
    let cutoff = store.now() - retention;
    let mut tx = store.begin().await?;
    let state: Option<StateRow> = on_tx!(tx, conn => sqlx::query_as(SELECT_STATE)
        .bind(administration.0)
        .fetch_optional(conn)
        .await)?;
    let Some(state) = state.map(state_from_row) else {
        tx.rollback().await?;
        return Ok(0);
    };
    // The first sync that committed after the cutoff replaced the one readers may still hold.
    let first_recent: Option<i64> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT MIN(sync_no) FROM datasync_syncs WHERE administration_id = $1 AND committed_at >= $2",
    )
    .bind(administration.0)
    .bind(cutoff)
    .fetch_one(conn)
    .await)?;
    let by_time = match first_recent {
        Some(first) => (first - 1).max(1).min(state.current_sync),
        None => state.current_sync,
    };
    // Readers are not recorded (a skip token carries its sync), so which generation a paging
    // reader holds is not known. Whatever the times, only the current generation and the one
    // before it are kept: the one before is what a refresh that started just before the latest
    // full sync still pages through; a reader of an older generation gets 410 Gone and starts
    // again. So back-to-back full syncs never keep more than two whole copies.
    let previous_generation: i64 = on_tx!(tx, conn => sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT {}",
        base_of("$1", &format!("{} - 1", base_of("$1", "$2")))
    )))
    .bind(administration.0)
    .bind(state.current_sync)
    .fetch_one(conn)
    .await)?;
    let oldest = by_time.max(previous_generation).min(state.current_sync);
    let mut removed = 0;
    if oldest > state.oldest_sync {
        for reported in REPORTED {
            // Closed before the oldest readable sync, or of a generation before its base.
            let statement = format!(
                "DELETE FROM {} WHERE administration_id = $1 AND (valid_to <= $2 OR valid_from < {})",
                reported.table(),
                base_of("$1", "$2")
            );
            removed += on_tx!(tx, conn => sqlx::query(AssertSqlSafe(statement))
                .bind(administration.0)
                .bind(oldest)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        on_tx!(tx, conn => sqlx::query("UPDATE datasync_state SET oldest_sync = $2 WHERE administration_id = $1")
            .bind(administration.0)
            .bind(oldest)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// Creates the administration's state row on its first use of Data Sync.
pub(crate) async fn ensure_state(tx: &mut Tx, administration: AdministrationId) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO datasync_state (administration_id) VALUES ($1) ON CONFLICT (administration_id) DO NOTHING",
    )
    .bind(administration.0)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
