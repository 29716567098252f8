//! The sync: brings an administration's reporting dataset up to date and commits it as the next
//! sync number, incrementally or in full.
//!
//! An incremental sync closes the versions of changed and deleted records (`valid_to = N + 1`) and
//! inserts new versions (`valid_from = N + 1`), all in one transaction; a full sync writes a whole new
//! generation (`valid_from = N + 1`) in chunks ([`crate::full`]) and leaves the old one as it is,
//! invisible from N + 1 on because the base moves. Either then advances the administration's sync
//! number. Until that last step nothing it wrote is visible: a reader sees the whole of one sync or
//! the whole of the previous one, and a crash leaves the last good snapshot.
//!
//! The copy is set-based SQL (`INSERT … SELECT` from the record tables), so a sync moves no row
//! through Rust. Only identifiers from resource specs are formatted into SQL; values are bound.

use crate::dataset::{OPEN, REPORTED, ReportedResource, base_of, copied_columns};
use crate::faults::{Faults, NoFaults};
pub use crate::full::CHUNK_ROWS;
use crate::full::Chunking;
use crate::state::ensure_state;
use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_store::sql::{AssertSqlSafe, on_tx};
use koppel_store::{Backend, Result, Store, StoreError, Tx};

/// What a Data Sync is asked to do (not to be confused with settings sync's request).
#[derive(Debug, Clone, Default)]
pub struct DataSyncRequest {
    /// Copy everything again instead of only what changed.
    pub full: bool,
    /// The run this sync belongs to (shown in SyncRuns).
    pub run_id: Option<i64>,
    /// Records per chunk of a full sync; [`CHUNK_ROWS`] when not set (tests set it small).
    #[doc(hidden)]
    pub chunk_rows: Option<i64>,
    /// Runs after each committed chunk of a full sync (outside any transaction), to show progress.
    pub progress: Option<ProgressHook>,
    /// Changes above which a sync on SQLite runs as a chunked full sync instead of one incremental
    /// transaction; [`INCREMENTAL_LIMIT`] when not set (tests set it small).
    #[doc(hidden)]
    pub incremental_limit: Option<u64>,
    /// A requested full resync within this time of the last full sync joins that one: it runs as an
    /// incremental sync on top of the complete copy the full sync made, instead of writing yet
    /// another whole generation that would be kept for the snapshot retention (the job passes the
    /// retention). `None`: every requested full resync copies everything.
    pub join_full_within: Option<chrono::Duration>,
}

impl DataSyncRequest {
    /// A requested full resync, everything else as by default.
    pub fn full() -> DataSyncRequest {
        DataSyncRequest {
            full: true,
            ..DataSyncRequest::default()
        }
    }
}

/// Changed rows an incremental sync on SQLite takes in its one transaction at most: about a second
/// of the write lock on a 2-core machine (10,000 changes take 0.04 s). Past it, after a bulk import
/// say, the sync runs full, in chunks that leave other writers room. PostgreSQL has no such limit:
/// its writers never wait for a long transaction.
pub const INCREMENTAL_LIMIT: u64 = 200_000;

/// How far a full sync has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgress {
    /// Chunks committed so far.
    pub chunks: usize,
    /// Entity sets copied completely.
    pub sets_done: usize,
    /// Entity sets in all.
    pub sets: usize,
    /// Versions written so far.
    pub rows: u64,
}

/// The future a [`ProgressHook`] returns.
pub type ProgressFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A callback that runs between the chunks of a full sync.
#[derive(Clone)]
pub struct ProgressHook(pub std::sync::Arc<dyn Fn(SyncProgress) -> ProgressFuture + Send + Sync>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// Rows a sync wrote to one entity set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableCounts {
    pub entity_set: &'static str,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

/// What a committed sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub sync_no: i64,
    pub full: bool,
    /// A requested full resync that joined the recent full sync with this number, committed then
    /// (see [`DataSyncRequest::join_full_within`]); this sync ran incrementally on top of it.
    pub joined_full: Option<(i64, DateTime<Utc>)>,
    /// The change position the snapshot covers.
    pub change_position: i64,
    pub committed_at: DateTime<Utc>,
    pub tables: Vec<TableCounts>,
}

impl SyncOutcome {
    pub fn inserted(&self) -> u64 {
        self.tables.iter().map(|t| t.inserted).sum()
    }
    pub fn updated(&self) -> u64 {
        self.tables.iter().map(|t| t.updated).sum()
    }
    pub fn deleted(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted).sum()
    }
}

/// Runs one sync of an administration's reporting dataset and commits it.
///
/// An incremental sync reads the changes since the last committed sync and writes them in one
/// transaction: on PostgreSQL `REPEATABLE READ`, so the change position and the records come from
/// one snapshot; on SQLite `BEGIN IMMEDIATE`. Its cost grows with the changes.
///
/// A full sync (the first one, a requested resync, or the sync after an attempt that died part-way)
/// copies everything, which at a million work orders takes tens of seconds. On SQLite, where that
/// would hold the only write lock, it therefore writes in chunks of [`CHUNK_ROWS`] records, each
/// its own short transaction, so other writers are never held up for long (on PostgreSQL one chunk
/// per table, each its own transaction). The chunks write invisible versions (of sync N+1) from the
/// records as they were at position P1; a last short transaction takes in what changed between P1
/// and its own position P2 and advances the sync number. The result is exactly the source at P2.
/// See `ARCHITECTURE.md` ("Data Sync") for why this is consistent.
pub async fn run(store: &Store, administration: AdministrationId, request: &DataSyncRequest) -> Result<SyncOutcome> {
    run_with_faults(store, administration, request, &NoFaults).await
}

/// [`run`], asking `faults` before each entity set is written (crash tests pass their own).
pub async fn run_with_faults(
    store: &Store,
    administration: AdministrationId,
    request: &DataSyncRequest,
    faults: &dyn Faults,
) -> Result<SyncOutcome> {
    let started_at = store.now();
    let mut tx = store.begin().await?;
    ensure_state(&mut tx, administration).await?;
    let state = sync_state(&mut tx, administration, store.backend()).await?;
    let interrupted = state.pending > state.current;
    let joined_full = match request.join_full_within {
        Some(window) if request.full && state.current > 0 && !interrupted => {
            recent_full_sync(&mut tx, administration, started_at - window).await?
        }
        _ => None,
    };
    if let Some((sync_no, committed_at)) = joined_full {
        tracing::info!(
            administration.id = %administration,
            sync.joined = sync_no,
            sync.joined_at = %committed_at,
            "a full resync was asked for within the retention of the last one; this sync builds on it"
        );
    }
    let must_be_full = (request.full && joined_full.is_none()) || state.current == 0 || interrupted;
    let limit = match (request.incremental_limit, store.backend()) {
        (Some(limit), _) => Some(limit),
        (None, Backend::Sqlite) => Some(INCREMENTAL_LIMIT),
        (None, Backend::Postgres) => None,
    };
    let too_many = match limit {
        Some(limit) if !must_be_full => changes_exceed(&mut tx, administration, state.position, limit).await?,
        _ => false,
    };
    if !(must_be_full || too_many) {
        tx.commit().await?;
        let mut outcome = incremental(store, administration, request, started_at, faults).await?;
        outcome.joined_full = joined_full;
        return Ok(outcome);
    }
    if too_many {
        tracing::info!(
            administration.id = %administration,
            "more changes than one short transaction takes; this sync runs full, in chunks"
        );
    }
    if interrupted {
        tracing::info!(
            administration.id = %administration,
            sync.number = state.pending,
            "an earlier attempt of this sync died part-way; this sync replaces it with a full one"
        );
    }
    // A full sync: claim the next sync number and take the position the chunks copy up to.
    let sync_no = state.current + 1;
    on_tx!(tx, conn => sqlx::query("UPDATE datasync_state SET pending_sync = $2 WHERE administration_id = $1")
        .bind(administration.0)
        .bind(sync_no)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    let copied_up_to = tx.change_position(administration).await?;
    tx.commit().await?;
    let chunk = Chunking {
        administration,
        sync_no,
        copied_up_to,
        // Versions of this sync number that a dead attempt left behind; the chunks replace them.
        leftovers: state.pending >= sync_no,
        rows: match (request.chunk_rows, store.backend()) {
            (Some(rows), _) => Some(rows.max(1)),
            (None, Backend::Sqlite) => Some(CHUNK_ROWS),
            // PostgreSQL readers and writers never wait for a long transaction (MVCC), and one
            // INSERT … SELECT per table is faster than many.
            (None, Backend::Postgres) => None,
        },
        hook: request.progress.clone(),
    };
    crate::full::run(store, &chunk, request, started_at, faults).await
}

async fn incremental(
    store: &Store,
    administration: AdministrationId,
    request: &DataSyncRequest,
    started_at: DateTime<Utc>,
    faults: &dyn Faults,
) -> Result<SyncOutcome> {
    let mut tx = store
        .begin_with("BEGIN IMMEDIATE", "BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await?;
    tx.now = started_at;
    let position = tx.change_position(administration).await?;
    // On PostgreSQL a concurrent sync of the same administration (which the job's unique key
    // prevents) would fail here with a serialization error instead of writing twice.
    let state = sync_state(&mut tx, administration, store.backend()).await?;
    if state.pending > state.current {
        return Err(sync_busy());
    }
    let sync_no = state.current + 1;
    let mut tables = Vec::with_capacity(REPORTED.len());
    for (index, reported) in REPORTED.iter().enumerate() {
        // A fault's error drops the transaction, which rolls everything back as a killed process would.
        faults.before_set(administration, index).await?;
        tables.push(copy_changes(&mut tx, administration, reported, sync_no, state.position, position).await?);
    }
    let outcome = SyncOutcome {
        sync_no,
        full: false,
        joined_full: None,
        change_position: position,
        committed_at: store.now(),
        tables,
    };
    commit_sync(tx, administration, request, started_at, &outcome).await?;
    Ok(outcome)
}

/// Where an administration's syncs stand.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SyncState {
    /// The committed sync readers are pinned to.
    pub(crate) current: i64,
    /// The sync being written; ahead of `current` while a full sync runs or after one died part-way.
    pub(crate) pending: i64,
    /// The change position the committed sync covers.
    pub(crate) position: i64,
}

/// Reads the administration's sync state; on PostgreSQL the row stays locked until the transaction ends.
pub(crate) async fn sync_state(tx: &mut Tx, administration: AdministrationId, backend: Backend) -> Result<SyncState> {
    let statement = match backend {
        Backend::Sqlite => SYNC_STATE.to_string(),
        Backend::Postgres => format!("{SYNC_STATE} FOR UPDATE"),
    };
    let row: Option<(i64, i64, i64)> = on_tx!(tx, conn => sqlx::query_as(AssertSqlSafe(statement))
        .bind(administration.0)
        .fetch_optional(conn)
        .await)?;
    Ok(
        row.map_or_else(SyncState::default, |(current, pending, position)| SyncState {
            current,
            pending,
            position,
        }),
    )
}

const SYNC_STATE: &str =
    "SELECT current_sync, pending_sync, change_position FROM datasync_state WHERE administration_id = $1";

pub(crate) fn sync_busy() -> StoreError {
    StoreError::conflict(
        "sync_running",
        "another sync of this administration is running; this one stopped without changing anything",
    )
}

/// Whether more than `limit` rows (changed records and tombstones, over all reported resources) changed
/// after `position`. Each count stops at the limit, so a burst costs no more than the limit to find.
async fn changes_exceed(tx: &mut Tx, administration: AdministrationId, position: i64, limit: u64) -> Result<bool> {
    let mut left = i64::try_from(limit).unwrap_or(i64::MAX);
    // Tombstones of every resource count, settings' too: an estimate that errs towards chunking.
    let tables = REPORTED
        .iter()
        .map(|reported| reported.spec.table)
        .chain(std::iter::once("tombstones"));
    for table in tables {
        let statement = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE administration_id = $1 AND change_seq > $2 LIMIT $3) AS changed"
        );
        let changed: i64 = on_tx!(tx, conn => sqlx::query_scalar(AssertSqlSafe(statement))
            .bind(administration.0)
            .bind(position)
            .bind(left.saturating_add(1))
            .fetch_one(conn)
            .await)?;
        left -= changed;
        if left < 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Records the committed sync, advances the administration's sync number and change position, and
/// commits.
pub(crate) async fn commit_sync(
    mut tx: Tx,
    administration: AdministrationId,
    request: &DataSyncRequest,
    started_at: DateTime<Utc>,
    outcome: &SyncOutcome,
) -> Result<()> {
    // A full sync starts a generation; an incremental one keeps the base of the sync before it.
    let base = if outcome.full {
        "$2".to_string()
    } else {
        base_of("$1", "$2 - 1")
    };
    on_tx!(tx, conn => sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO datasync_syncs (administration_id, sync_no, run_id, full_sync, change_position, started_at, \
         committed_at, rows_inserted, rows_updated, rows_deleted, base_sync) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {base})"
    )))
    .bind(administration.0)
    .bind(outcome.sync_no)
    .bind(request.run_id)
    .bind(outcome.full)
    .bind(outcome.change_position)
    .bind(started_at)
    .bind(outcome.committed_at)
    .bind(outcome.inserted() as i64)
    .bind(outcome.updated() as i64)
    .bind(outcome.deleted() as i64)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    on_tx!(tx, conn => sqlx::query(
        "UPDATE datasync_state SET current_sync = $2, pending_sync = $2, change_position = $3, synced_at = $4 \
         WHERE administration_id = $1",
    )
    .bind(administration.0)
    .bind(outcome.sync_no)
    .bind(outcome.change_position)
    .bind(outcome.committed_at)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await
}

/// The latest full sync that committed at or after `since`, if any: its number and commit time.
async fn recent_full_sync(
    tx: &mut Tx,
    administration: AdministrationId,
    since: DateTime<Utc>,
) -> Result<Option<(i64, DateTime<Utc>)>> {
    Ok(on_tx!(tx, conn => sqlx::query_as(
        "SELECT sync_no, committed_at FROM datasync_syncs WHERE administration_id = $1 AND full_sync \
         AND committed_at >= $2 ORDER BY sync_no DESC LIMIT 1",
    )
    .bind(administration.0)
    .bind(since)
    .fetch_optional(conn)
    .await)?)
}

/// Closes the versions of records changed or deleted after `last` and inserts their new versions.
async fn copy_changes(
    tx: &mut Tx,
    administration: AdministrationId,
    reported: &'static ReportedResource,
    sync_no: i64,
    last: i64,
    position: i64,
) -> Result<TableCounts> {
    let table = reported.table();
    let source = reported.spec.table;
    // Only the current generation: versions an earlier full sync left behind are hidden already.
    let generation = format!("valid_from >= {}", base_of("$1", "$2 - 1"));
    let close_changed = format!(
        "UPDATE {table} SET valid_to = $2 WHERE administration_id = $1 AND valid_to = $3 AND {generation} AND id IN \
         (SELECT id FROM {source} WHERE administration_id = $1 AND change_seq > $4 AND change_seq <= $5)"
    );
    let updated = on_tx!(tx, conn => sqlx::query(AssertSqlSafe(close_changed))
        .bind(administration.0)
        .bind(sync_no)
        .bind(OPEN)
        .bind(last)
        .bind(position)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    let close_deleted = format!(
        "UPDATE {table} SET valid_to = $2 WHERE administration_id = $1 AND valid_to = $3 AND {generation} AND id IN \
         (SELECT record_id FROM tombstones WHERE administration_id = $1 AND resource = $6 \
          AND change_seq > $4 AND change_seq <= $5)"
    );
    let deleted = on_tx!(tx, conn => sqlx::query(AssertSqlSafe(close_deleted))
        .bind(administration.0)
        .bind(sync_no)
        .bind(OPEN)
        .bind(last)
        .bind(position)
        .bind(reported.spec.slug)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    let columns = copied_columns(reported);
    let insert = format!(
        "INSERT INTO {table} (administration_id, valid_from, valid_to, {columns}) \
         SELECT administration_id, $2, $3, {columns} FROM {source} \
         WHERE administration_id = $1 AND change_seq > $4 AND change_seq <= $5"
    );
    let written = on_tx!(tx, conn => sqlx::query(AssertSqlSafe(insert))
        .bind(administration.0)
        .bind(sync_no)
        .bind(OPEN)
        .bind(last)
        .bind(position)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(TableCounts {
        entity_set: reported.entity_set,
        inserted: written.saturating_sub(updated),
        updated,
        deleted,
    })
}
