//! A full sync: a whole new generation of the reporting dataset, written in chunks so no
//! transaction holds SQLite's only write lock for long, then committed in one short transaction that
//! takes in what changed meanwhile.
//!
//! The chunks copy the records as they were at position P1 (`change_seq <= P1`) as versions of the
//! claimed sync number N+1, invisible until the commit. The commit reads its own position P2,
//! replaces the chunk-written versions of records changed or deleted in (P1, P2] and inserts their
//! current rows, so every record is exactly as at P2. The versions of the previous generation stay
//! as they are: readers of earlier syncs may still page through them, and from N+1 on the base hides
//! them.

use crate::dataset::{OPEN, REPORTED, ReportedResource, copied_columns, visible};
use crate::engine::{
    DataSyncRequest, ProgressHook, SyncOutcome, SyncProgress, TableCounts, commit_sync, sync_busy, sync_state,
};
use crate::faults::Faults;
use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_store::sql::{AssertSqlSafe, Pool, on_pool, on_tx};
use koppel_store::{Backend, Result, Store, StoreError, Tx};

/// Records a full sync copies per transaction on SQLite: at 1M work orders a chunk holds the write
/// lock for about a quarter of a second. On PostgreSQL each table is one chunk.
pub const CHUNK_ROWS: i64 = 50_000;

/// Rows a full sync must add to a reporting table beyond twice what it replaced before the table is
/// analysed on PostgreSQL (small tables are planned well without fresh statistics).
const ANALYZE_MIN_GROWTH: u64 = 1_000;

/// How long a full sync on SQLite leaves the write lock free between two chunks: a few times the
/// interval at which waiting writers try again (the store's busy handler polls every 2 ms).
const CHUNK_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// What a full sync's chunks share.
pub(crate) struct Chunking {
    pub(crate) administration: AdministrationId,
    pub(crate) sync_no: i64,
    /// The change position the chunks copy records up to.
    pub(crate) copied_up_to: i64,
    /// Whether a dead attempt may have left versions of `sync_no` behind.
    pub(crate) leftovers: bool,
    /// Source records per chunk; `None` copies each table in one chunk.
    pub(crate) rows: Option<i64>,
    pub(crate) hook: Option<ProgressHook>,
}

/// Rows of one table a full sync replaces (those the sync before showed) and the rows it wrote.
#[derive(Debug, Default, Clone, Copy)]
struct FullTally {
    replaced: u64,
    inserted: u64,
}

impl FullTally {
    /// A full copy replaces every row, so it counts net: as many rows as existed before and exist now
    /// count as updated, the surplus as new or gone (30 rows replaced by 29 are 29 updated, 1 deleted,
    /// even when in fact 2 went and 1 came).
    fn counts(self, entity_set: &'static str) -> TableCounts {
        let updated = self.replaced.min(self.inserted);
        TableCounts {
            entity_set,
            inserted: self.inserted - updated,
            updated,
            deleted: self.replaced - updated,
        }
    }
}

/// The chunks of a full sync whose number is claimed, then its commit.
pub(crate) async fn run(
    store: &Store,
    chunk: &Chunking,
    request: &DataSyncRequest,
    started_at: DateTime<Utc>,
    faults: &dyn Faults,
) -> Result<SyncOutcome> {
    let administration = chunk.administration;
    let progress = std::sync::Mutex::new(SyncProgress {
        chunks: 0,
        sets_done: 0,
        sets: REPORTED.len(),
        rows: 0,
    });
    let next_table = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<Option<FullTally>>> = std::sync::Mutex::new(vec![None; REPORTED.len()]);
    // One lane takes the next table until none is left.
    let lane = || async {
        loop {
            let index = next_table.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(reported) = REPORTED.get(index) else {
                return Ok::<(), StoreError>(());
            };
            // On a fault's error, what is written so far stays invisible; the next sync replaces it.
            faults.before_set(administration, index).await?;
            let tally = copy_chunked(store, chunk, reported, &progress).await?;
            if let Pool::Postgres(pool) = store.pool()
                && tally.inserted > 2 * tally.replaced + ANALYZE_MIN_GROWTH
            {
                // A table that grew by orders of magnitude (the first full sync) gets fresh statistics
                // at once, in its lane: without them PostgreSQL plans the next incremental sync's
                // closing joins as if the table were empty. A resync of about the same size leaves
                // statistics to autovacuum. The copied rows are committed, so ANALYZE sees them.
                let statement = format!("ANALYZE {}", reported.table());
                sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
            }
            done.lock().expect("sync tallies")[index] = Some(tally);
        }
    };
    if chunk.rows.is_none() {
        // Each table in one chunk (PostgreSQL): two tables at a time, one per core of a small
        // server; the database does the work in two processes.
        futures_util::future::try_join(lane(), lane()).await?;
    } else {
        lane().await?;
    }
    let tallies: Vec<FullTally> = done
        .into_inner()
        .expect("sync tallies")
        .into_iter()
        .map(|tally| tally.unwrap_or_default())
        .collect();

    // Commit: take in what changed while the chunks were written, in one snapshot with the sync
    // number's advance.
    let mut tx = store
        .begin_with("BEGIN IMMEDIATE", "BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await?;
    let position = tx.change_position(administration).await?;
    let state = sync_state(&mut tx, administration, store.backend()).await?;
    if state.current + 1 != chunk.sync_no || state.pending != chunk.sync_no {
        return Err(sync_busy());
    }
    let mut tables = Vec::with_capacity(REPORTED.len());
    for (reported, tally) in REPORTED.iter().zip(tallies) {
        let tally = catch_up(&mut tx, chunk, reported, position, tally).await?;
        tables.push(tally.counts(reported.entity_set));
    }
    let outcome = SyncOutcome {
        sync_no: chunk.sync_no,
        full: true,
        joined_full: None,
        change_position: position,
        committed_at: store.now(),
        tables,
    };
    commit_sync(tx, administration, request, started_at, &outcome).await?;
    Ok(outcome)
}

/// Copies one table in chunks of source records by id: each chunk inserts the records in its id
/// range as they were at `copied_up_to` (records changed since are left to the commit), in its own
/// transaction. The versions of the previous generation stay as they are: readers of earlier syncs
/// may still page through them, and from this sync on the base hides them.
async fn copy_chunked(
    store: &Store,
    chunk: &Chunking,
    reported: &'static ReportedResource,
    progress: &std::sync::Mutex<SyncProgress>,
) -> Result<FullTally> {
    let table = reported.table();
    let source = reported.spec.table;
    let columns = copied_columns(reported);
    let next_bound =
        format!("SELECT id FROM {source} WHERE administration_id = $1 AND id > $2 ORDER BY id LIMIT 1 OFFSET $3");
    let remove_leftovers =
        format!("DELETE FROM {table} WHERE administration_id = $1 AND id > $2 AND id <= $3 AND valid_from = $4");
    let insert = format!(
        "INSERT INTO {table} (administration_id, valid_from, valid_to, {columns}) \
         SELECT administration_id, $4, $5, {columns} FROM {source} \
         WHERE administration_id = $1 AND id > $2 AND id <= $3 AND change_seq <= $6"
    );
    let administration = chunk.administration.0;
    let mut tally = FullTally::default();
    if chunk.sync_no > 1 {
        // What the sync before showed, for the counts; that sync does not change any more.
        let shown = format!(
            "SELECT COUNT(*) FROM {table} WHERE administration_id = $1 AND {}",
            visible("$1", "$2")
        );
        let shown: i64 = on_pool!(store.pool(), pool => sqlx::query_scalar(AssertSqlSafe(shown))
            .bind(administration)
            .bind(chunk.sync_no - 1)
            .fetch_one(pool)
            .await)?;
        tally.replaced = u64::try_from(shown).unwrap_or(0);
    }
    let mut lower = i64::MIN;
    loop {
        let bound: Option<i64> = match chunk.rows {
            Some(rows) => on_pool!(store.pool(), pool => sqlx::query_scalar(AssertSqlSafe(next_bound.as_str()))
                .bind(administration)
                .bind(lower)
                .bind(rows - 1)
                .fetch_optional(pool)
                .await)?,
            None => None,
        };
        let upper = bound.unwrap_or(i64::MAX);
        let mut tx = store.begin().await?;
        if chunk.leftovers {
            on_tx!(tx, conn => sqlx::query(AssertSqlSafe(remove_leftovers.as_str()))
                .bind(administration)
                .bind(lower)
                .bind(upper)
                .bind(chunk.sync_no)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        let inserted = on_tx!(tx, conn => sqlx::query(AssertSqlSafe(insert.as_str()))
            .bind(administration)
            .bind(lower)
            .bind(upper)
            .bind(chunk.sync_no)
            .bind(OPEN)
            .bind(chunk.copied_up_to)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        if store.backend() == Backend::Sqlite {
            // SQLite has one writer at a time, and a waiting writer tries again every 2 ms: leave it
            // room to get in before the next chunk takes the lock again.
            tokio::time::sleep(CHUNK_PAUSE).await;
        }
        tally.inserted += inserted;
        let now = {
            let mut progress = progress.lock().expect("sync progress");
            progress.chunks += 1;
            progress.rows += inserted;
            if bound.is_none() {
                progress.sets_done += 1;
            }
            *progress
        };
        if let Some(hook) = &chunk.hook {
            (hook.0)(now).await;
        }
        match bound {
            Some(bound) => lower = bound,
            None => return Ok(tally),
        }
    }
}

/// The last step of a full sync, inside the commit's transaction: records changed or deleted after
/// the chunks' position get their chunk-written version replaced by the current one (or removed).
async fn catch_up(
    tx: &mut Tx,
    chunk: &Chunking,
    reported: &'static ReportedResource,
    position: i64,
    mut tally: FullTally,
) -> Result<FullTally> {
    let table = reported.table();
    let source = reported.spec.table;
    let replaced = format!(
        "DELETE FROM {table} WHERE administration_id = $1 AND valid_from = $2 AND id IN \
         (SELECT id FROM {source} WHERE administration_id = $1 AND change_seq > $3 AND change_seq <= $4 \
          UNION ALL SELECT record_id FROM tombstones WHERE administration_id = $1 AND resource = $5 \
          AND change_seq > $3 AND change_seq <= $4)"
    );
    let removed = on_tx!(tx, conn => sqlx::query(AssertSqlSafe(replaced))
        .bind(chunk.administration.0)
        .bind(chunk.sync_no)
        .bind(chunk.copied_up_to)
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
        .bind(chunk.administration.0)
        .bind(chunk.sync_no)
        .bind(OPEN)
        .bind(chunk.copied_up_to)
        .bind(position)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    tally.inserted = tally.inserted - removed + written;
    Ok(tally)
}
