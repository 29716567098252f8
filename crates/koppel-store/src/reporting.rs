//! The reporting dataset of Data Sync: versioned copies of an administration's daily data that
//! Power BI reads, the sync that keeps them current, feed tokens and the Autosync setting.
//!
//! Every reporting row carries `valid_from`/`valid_to` sync numbers: a reader pinned to sync N sees
//! the rows with `base(N) <= valid_from <= N < valid_to`, where `base(N)` is the latest full sync at
//! or before N (`datasync_syncs.base_sync`, see [`visible`]). An incremental sync closes the versions
//! of changed and deleted records (`valid_to = N + 1`) and inserts new versions (`valid_from = N + 1`);
//! a full sync writes a whole new generation (`valid_from = N + 1`) and leaves the old one as it is,
//! invisible from N + 1 on because the base moves. Either then advances the administration's sync
//! number. Until that last step nothing it wrote is visible: a reader sees the
//! whole of one sync or the whole of the previous one, and a crash leaves the last good snapshot.
//! An incremental sync does all of it in one transaction; a full sync writes in chunks and commits
//! with a short last transaction (see [`Store::datasync_run`]). Old versions are pruned once no
//! reader can be pinned to them any more (see [`Store::datasync_prune`]).
//!
//! The copy is set-based SQL (`INSERT … SELECT` from the record tables), so a sync moves no row
//! through Rust. Only identifiers from resource specs are formatted into SQL; values are bound.

use crate::bulk::direct::{self, Bound};
use crate::platform::hash_secret;
use crate::sql::{Pool, bind_value, decode_value, on_pool, on_tx};
use crate::{Backend, Result, Store, StoreError, Tx};
use base64::Engine;
use chrono::{DateTime, Utc};
use koppel_domain::record::{FieldKind, FieldSpec, ResourceSpec, StorageType, Value};
use koppel_domain::{AdministrationId, UserId, resources};
use rand::RngCore;
use sqlx::AssertSqlSafe;
use std::fmt::Write;

/// `valid_to` of a version that is still current.
pub const OPEN: i64 = i64::MAX;

/// SQL for the base of a sync: the latest full sync at or before it (0 before the first sync, and for
/// syncs recorded before full syncs wrote generations). `admin` and `sync` are SQL expressions
/// (placeholders such as `$1`, or `$2 - 1`).
fn base_of(admin: &str, sync: &str) -> String {
    format!(
        "COALESCE((SELECT base_sync FROM datasync_syncs WHERE administration_id = {admin} AND sync_no = {sync}), 0)"
    )
}

/// The versions a reader pinned to a sync sees, for SQL expressions `admin` and `sync`.
fn visible(admin: &str, sync: &str) -> String {
    format!(
        "valid_from >= {} AND valid_from <= {sync} AND valid_to > {sync}",
        base_of(admin, sync)
    )
}

/// One entity set of the reporting dataset and the record resource it copies.
#[derive(Debug)]
pub struct ReportedResource {
    /// The OData entity set name (`Customers`).
    pub entity_set: &'static str,
    /// The singular entity type name (`Customer`).
    pub entity_type: &'static str,
    pub spec: &'static ResourceSpec,
}

impl ReportedResource {
    /// The reporting table (`datasync_relations`).
    pub fn table(&self) -> String {
        format!("datasync_{}", self.spec.table)
    }

    /// The fields copied: every field except structured JSON (settings only; nothing BI can use).
    pub fn fields(&self) -> impl Iterator<Item = &'static FieldSpec> {
        self.spec
            .fields
            .iter()
            .filter(|field| !matches!(field.kind, FieldKind::Json(_)))
    }
}

const fn reported(
    entity_set: &'static str,
    entity_type: &'static str,
    spec: &'static ResourceSpec,
) -> ReportedResource {
    ReportedResource {
        entity_set,
        entity_type,
        spec,
    }
}

/// The daily data (and hour types) the reporting dataset holds, parents before children.
pub const REPORTED: &[ReportedResource] = &[
    reported("Customers", "Customer", &resources::RELATIONS),
    reported("Addresses", "Address", &resources::ADDRESSES),
    reported("ContactPersons", "ContactPerson", &resources::CONTACT_PERSONS),
    reported("Objects", "Object", &resources::OBJECTS),
    reported("Projects", "Project", &resources::PROJECTS),
    reported("Employees", "Employee", &resources::EMPLOYEES),
    reported("Materials", "Material", &resources::MATERIALS),
    reported("HourTypes", "HourType", &resources::HOUR_TYPES),
    reported("WorkOrders", "WorkOrder", &resources::WORK_ORDERS),
    reported("WorkOrderHours", "WorkOrderHour", &resources::WORK_ORDER_HOURS),
    reported(
        "WorkOrderMaterials",
        "WorkOrderMaterial",
        &resources::WORK_ORDER_MATERIALS,
    ),
    reported("Invoices", "Invoice", &resources::INVOICES),
    reported("InvoiceLines", "InvoiceLine", &resources::INVOICE_LINES),
    reported("Payments", "Payment", &resources::PAYMENTS),
    reported("Quotes", "Quote", &resources::QUOTES),
];

pub fn reported_by_set(entity_set: &str) -> Option<&'static ReportedResource> {
    REPORTED.iter().find(|reported| reported.entity_set == entity_set)
}

fn column_type(storage: StorageType, backend: Backend) -> &'static str {
    match (storage, backend) {
        (StorageType::Integer, _) => "BIGINT",
        (StorageType::Text, _) => "TEXT",
        (StorageType::Bool, _) => "BOOLEAN",
        (StorageType::Date, _) => "DATE",
        (StorageType::Timestamp, Backend::Sqlite) => "DATETIME",
        (StorageType::Timestamp, Backend::Postgres) => "TIMESTAMPTZ",
    }
}

/// The migration that creates the reporting dataset (`migrations/*/0005_datasync.sql`).
pub fn render_migration(backend: Backend) -> String {
    let timestamp = column_type(StorageType::Timestamp, backend);
    let id = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
    let mut sql = String::from(
        "-- Data Sync: the reporting dataset Power BI reads, its sync state, feed tokens and Autosync.\n\
         -- Generated by koppel_store::reporting::render_migration; the tables have no foreign key to\n\
         -- administrations so that deleting a sub is not blocked by its reporting copy (the feed checks\n\
         -- that the administration still exists).\n\n",
    );
    let _ = write!(
        sql,
        "-- One row per administration that uses Data Sync. A reader is pinned to current_sync; versions\n\
         -- with valid_to <= oldest_sync have been pruned.\n\
         CREATE TABLE datasync_state (\n    administration_id BIGINT PRIMARY KEY,\n    current_sync BIGINT NOT NULL DEFAULT 0,\n    \
         change_position BIGINT NOT NULL DEFAULT 0,\n    synced_at {timestamp},\n    oldest_sync BIGINT NOT NULL DEFAULT 0,\n    \
         autosync BOOLEAN NOT NULL DEFAULT FALSE,\n    autosync_changed_at {timestamp},\n    autosync_changed_by BIGINT\n);\n\n"
    );
    let _ = write!(
        sql,
        "-- Every committed sync: the SyncRuns entity set.\n\
         CREATE TABLE datasync_syncs (\n    administration_id BIGINT NOT NULL,\n    sync_no BIGINT NOT NULL,\n    run_id BIGINT,\n    \
         full_sync BOOLEAN NOT NULL,\n    change_position BIGINT NOT NULL,\n    started_at {timestamp} NOT NULL,\n    \
         committed_at {timestamp} NOT NULL,\n    rows_inserted BIGINT NOT NULL,\n    rows_updated BIGINT NOT NULL,\n    \
         rows_deleted BIGINT NOT NULL,\n    PRIMARY KEY (administration_id, sync_no)\n);\n\n"
    );
    let _ = write!(
        sql,
        "-- Feed tokens: the password of HTTP Basic on the OData feed, stored as SHA-256 of a random secret.\n\
         CREATE TABLE datasync_feed_tokens (\n    id {id},\n    administration_id BIGINT NOT NULL,\n    name TEXT NOT NULL,\n    \
         token_hash TEXT NOT NULL,\n    created_at {timestamp} NOT NULL,\n    created_by BIGINT,\n    last_used_at {timestamp},\n    \
         revoked_at {timestamp}\n);\n\
         CREATE UNIQUE INDEX datasync_feed_tokens_hash ON datasync_feed_tokens (token_hash);\n\
         CREATE INDEX datasync_feed_tokens_by_administration ON datasync_feed_tokens (administration_id, id);\n"
    );
    for reported in REPORTED {
        let table = reported.table();
        let _ = write!(
            sql,
            "\n-- {} ({}).\nCREATE TABLE {table} (\n    administration_id BIGINT NOT NULL,\n    valid_from BIGINT NOT NULL,\n    \
             valid_to BIGINT NOT NULL,\n    id BIGINT NOT NULL",
            reported.entity_set, reported.spec.table
        );
        for field in reported.fields() {
            let null = if field.required { " NOT NULL" } else { "" };
            let _ = write!(
                sql,
                ",\n    {} {}{null}",
                field.name,
                column_type(field.kind.storage(), backend)
            );
        }
        let _ = write!(
            sql,
            ",\n    created_at {timestamp} NOT NULL,\n    modified_at {timestamp} NOT NULL,\n    \
             PRIMARY KEY (administration_id, id, valid_from)\n);\n"
        );
        let _ = writeln!(
            sql,
            "CREATE INDEX {table}_current ON {table} (administration_id, valid_to, id);"
        );
        let _ = writeln!(
            sql,
            "CREATE INDEX {table}_modified ON {table} (administration_id, modified_at);"
        );
    }
    sql
}

/// The column list of a reporting table after `administration_id, valid_from, valid_to`.
fn copied_columns(reported: &ReportedResource) -> String {
    let mut columns = String::from("id");
    for field in reported.fields() {
        columns.push_str(", ");
        columns.push_str(field.name);
    }
    columns.push_str(", created_at, modified_at");
    columns
}

/// What a sync is asked to do.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// Copy everything again instead of only what changed.
    pub full: bool,
    /// The run this sync belongs to (shown in SyncRuns).
    pub run_id: Option<i64>,
    /// For crash tests: fail after this many tables, before commit, as a killed process would.
    #[doc(hidden)]
    pub fail_after_tables: Option<usize>,
    /// For crash tests with a real process: stop after this many tables, before commit, until the
    /// process is killed.
    #[doc(hidden)]
    pub pause_after_tables: Option<usize>,
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

impl SyncRequest {
    /// A requested full resync, everything else as by default.
    pub fn full() -> SyncRequest {
        SyncRequest {
            full: true,
            ..SyncRequest::default()
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

/// Records a full sync copies per transaction on SQLite: at 1M work orders a chunk holds the write
/// lock for about a quarter of a second. On PostgreSQL each table is one chunk.
pub const CHUNK_ROWS: i64 = 50_000;

/// The future a [`ProgressHook`] returns.
pub type ProgressFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// How long a full sync on SQLite leaves the write lock free between two chunks: a few times the
/// interval at which waiting writers try again (`bulk::direct::poll_for_lock_often`).
const CHUNK_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

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
    /// (see [`SyncRequest::join_full_within`]); this sync ran incrementally on top of it.
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

/// An administration's Data Sync state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatasyncState {
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

fn state_from_row(row: StateRow) -> DatasyncState {
    let (current_sync, change_position, synced_at, oldest_sync, autosync, autosync_changed_at, by) = row;
    DatasyncState {
        current_sync,
        change_position,
        synced_at,
        oldest_sync,
        autosync,
        autosync_changed_at,
        autosync_changed_by: by.map(UserId),
    }
}

/// A feed token's id, administration, last use and revocation.
type TokenRow = (i64, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

const SELECT_STATE: &str = "SELECT current_sync, change_position, synced_at, oldest_sync, autosync, \
     autosync_changed_at, autosync_changed_by FROM datasync_state WHERE administration_id = $1";

/// A feed token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedToken {
    pub id: i64,
    pub administration_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What checking a feed token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedTokenCheck {
    /// No token has this secret.
    Unknown,
    /// The token was revoked at this time.
    Revoked { administration: AdministrationId },
    /// The token is valid for this administration.
    Valid { administration: AdministrationId },
}

/// One committed sync, as the SyncRuns entity set lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SyncRecord {
    pub sync_no: i64,
    pub run_id: Option<i64>,
    pub full_sync: bool,
    pub change_position: i64,
    pub started_at: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
}

/// A piece of a reader's `WHERE` clause: SQL text made by code (identifiers and operators, never
/// request text) or a value that is bound as a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlPiece {
    Sql(String),
    Bind(Value),
}

/// Where a reader's rows come from.
#[derive(Debug, Clone, Copy)]
pub enum ReportingSource {
    /// A versioned reporting table.
    Entity(&'static ReportedResource),
    /// The list of committed syncs (keyed by `sync_no`).
    Syncs,
}

impl ReportingSource {
    fn table(self) -> String {
        match self {
            ReportingSource::Entity(reported) => reported.table(),
            ReportingSource::Syncs => "datasync_syncs".to_string(),
        }
    }

    /// The key column.
    pub fn key(self) -> &'static str {
        match self {
            ReportingSource::Entity(_) => "id",
            ReportingSource::Syncs => "sync_no",
        }
    }
}

/// A read of one page (or a count) of reporting rows at a pinned sync.
#[derive(Debug, Clone)]
pub struct ReportingRead<'a> {
    pub administration: AdministrationId,
    pub source: ReportingSource,
    pub sync: i64,
    /// Columns to select, with how to decode them.
    pub columns: &'a [(&'a str, StorageType)],
    /// Extra conditions, already translated; empty for none.
    pub filter: &'a [SqlPiece],
    /// `ORDER BY` terms, each complete (expression, direction, null order) and without commas;
    /// the key is always the last tie-breaker.
    pub order: &'a [Vec<SqlPiece>],
    /// Keyset paging on the key (only without `order`).
    pub after_key: Option<i64>,
    pub offset: u64,
    pub limit: u64,
}

fn new_feed_secret() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("kpf_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_secret(&secret);
    (secret, hash)
}

impl Store {
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
    /// per table, each its own transaction). The chunks write invisible versions (of sync N+1) from the records as they were at
    /// position P1; a last short transaction takes in what changed between P1 and its own position P2
    /// and advances the sync number. The result is exactly the source at P2. See
    /// `ARCHITECTURE.md` ("Data Sync") for why this is consistent.
    pub async fn datasync_run(&self, administration: AdministrationId, request: &SyncRequest) -> Result<SyncOutcome> {
        let started_at = self.now();
        let mut tx = self.begin().await?;
        ensure_state(&mut tx, administration).await?;
        let state = sync_state(&mut tx, administration, self.backend()).await?;
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
        let limit = match (request.incremental_limit, self.backend()) {
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
            let mut outcome = self.datasync_incremental(administration, request, started_at).await?;
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
            rows: match (request.chunk_rows, self.backend()) {
                (Some(rows), _) => Some(rows.max(1)),
                (None, Backend::Sqlite) => Some(CHUNK_ROWS),
                // PostgreSQL readers and writers never wait for a long transaction (MVCC), and one
                // INSERT … SELECT per table is faster than many.
                (None, Backend::Postgres) => None,
            },
            hook: request.progress.clone(),
        };
        self.datasync_full(&chunk, request, started_at).await
    }

    async fn datasync_incremental(
        &self,
        administration: AdministrationId,
        request: &SyncRequest,
        started_at: DateTime<Utc>,
    ) -> Result<SyncOutcome> {
        let mut tx = self
            .begin_with("BEGIN IMMEDIATE", "BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await?;
        tx.now = started_at;
        let position = tx.change_position(administration).await?;
        // On PostgreSQL a concurrent sync of the same administration (which the job's unique key
        // prevents) would fail here with a serialization error instead of writing twice.
        let state = sync_state(&mut tx, administration, self.backend()).await?;
        if state.pending > state.current {
            return Err(sync_busy());
        }
        let sync_no = state.current + 1;
        let mut tables = Vec::with_capacity(REPORTED.len());
        for (index, reported) in REPORTED.iter().enumerate() {
            if request.fail_after_tables == Some(index) {
                // Dropping the transaction rolls everything back, as a killed process would.
                return Err(sync_interrupted());
            }
            if request.pause_after_tables == Some(index) {
                pause_for_crash_test(administration).await;
            }
            tables.push(copy_changes(&mut tx, administration, reported, sync_no, state.position, position).await?);
        }
        let outcome = SyncOutcome {
            sync_no,
            full: false,
            joined_full: None,
            change_position: position,
            committed_at: self.now(),
            tables,
        };
        commit_sync(tx, administration, request, started_at, &outcome).await?;
        Ok(outcome)
    }

    /// The chunks of a full sync whose number is claimed, then its commit.
    async fn datasync_full(
        &self,
        chunk: &Chunking,
        request: &SyncRequest,
        started_at: DateTime<Utc>,
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
                if request.fail_after_tables == Some(index) {
                    // What is written so far stays invisible; the next sync replaces it.
                    return Err(sync_interrupted());
                }
                if request.pause_after_tables == Some(index) {
                    pause_for_crash_test(administration).await;
                }
                let tally = self.copy_full_chunked(chunk, reported, &progress).await?;
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
        let mut tx = self
            .begin_with("BEGIN IMMEDIATE", "BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await?;
        let position = tx.change_position(administration).await?;
        let state = sync_state(&mut tx, administration, self.backend()).await?;
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
            committed_at: self.now(),
            tables,
        };
        commit_sync(tx, administration, request, started_at, &outcome).await?;
        if let Pool::Postgres(pool) = self.pool() {
            // A full copy changes the tables' size by orders of magnitude; without fresh statistics
            // PostgreSQL plans the next incremental sync's closing joins as if the tables were empty.
            for reported in REPORTED {
                let statement = format!("ANALYZE {}", reported.table());
                sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
            }
        }
        Ok(outcome)
    }

    /// Copies one table in chunks of source records by id: each chunk inserts the records in its id
    /// range as they were at `copied_up_to` (records changed since are left to the commit), in its own
    /// transaction. The versions of the previous generation stay as they are: readers of earlier syncs
    /// may still page through them, and from this sync on the base hides them.
    async fn copy_full_chunked(
        &self,
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
            let shown: i64 = on_pool!(self.pool(), pool => sqlx::query_scalar(AssertSqlSafe(shown))
                .bind(administration)
                .bind(chunk.sync_no - 1)
                .fetch_one(pool)
                .await)?;
            tally.replaced = u64::try_from(shown).unwrap_or(0);
        }
        let mut lower = i64::MIN;
        loop {
            let bound: Option<i64> = match chunk.rows {
                Some(rows) => on_pool!(self.pool(), pool => sqlx::query_scalar(AssertSqlSafe(next_bound.as_str()))
                    .bind(administration)
                    .bind(lower)
                    .bind(rows - 1)
                    .fetch_optional(pool)
                    .await)?,
                None => None,
            };
            let upper = bound.unwrap_or(i64::MAX);
            let mut tx = self.begin().await?;
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
            if self.backend() == Backend::Sqlite {
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

    /// Removes versions no reader can be pinned to any more, and returns how many rows went.
    ///
    /// A reader pinned to sync K may keep paging until `retention` after sync K+1 committed. So the
    /// oldest readable sync is the one that was current `retention` ago.
    pub async fn datasync_prune(&self, administration: AdministrationId, retention: chrono::Duration) -> Result<u64> {
        let cutoff = self.now() - retention;
        let mut tx = self.begin().await?;
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

    /// The administration's Data Sync state (all defaults before it was ever used).
    pub async fn datasync_state(&self, administration: AdministrationId) -> Result<DatasyncState> {
        let row: Option<StateRow> = on_pool!(self.pool(), pool => sqlx::query_as(SELECT_STATE)
            .bind(administration.0)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(state_from_row).unwrap_or_default())
    }

    /// Switches Autosync on or off. On: a `data_sync` schedule for the administration, first due at
    /// once (the scheduler applies the operator's interval at its next tick). Off: the schedule goes;
    /// the history stays.
    pub async fn datasync_set_autosync(
        &self,
        administration: AdministrationId,
        enabled: bool,
        by: Option<UserId>,
        interval: chrono::Duration,
    ) -> Result<DatasyncState> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        ensure_state(&mut tx, administration).await?;
        on_tx!(tx, conn => sqlx::query(
            "UPDATE datasync_state SET autosync = $2, autosync_changed_at = $3, autosync_changed_by = $4 \
             WHERE administration_id = $1",
        )
        .bind(administration.0)
        .bind(enabled)
        .bind(now)
        .bind(by.map(|u| u.0))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        let scope = format!("administration:{administration}");
        if enabled {
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO schedules (kind, administration_id, scope_key, interval_seconds, next_run_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (kind, scope_key) DO NOTHING",
            )
            .bind(DATA_SYNC_KIND)
            .bind(administration.0)
            .bind(scope)
            .bind(interval.num_seconds().max(1))
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        } else {
            on_tx!(tx, conn => sqlx::query("DELETE FROM schedules WHERE kind = $1 AND scope_key = $2")
                .bind(DATA_SYNC_KIND)
                .bind(scope)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        let row: StateRow = on_tx!(tx, conn => sqlx::query_as(SELECT_STATE)
            .bind(administration.0)
            .fetch_one(conn)
            .await)?;
        tx.commit().await?;
        Ok(state_from_row(row))
    }

    /// Creates a feed token; the secret is returned once and only its hash is kept.
    pub async fn datasync_create_token(
        &self,
        administration: AdministrationId,
        name: &str,
        by: Option<UserId>,
    ) -> Result<(FeedToken, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid(
                "name",
                "invalid",
                "name must have 1 to 100 characters",
            ));
        }
        let (secret, hash) = new_feed_secret();
        let now = self.now();
        let token: FeedToken = on_pool!(self.pool(), pool => sqlx::query_as(
            "INSERT INTO datasync_feed_tokens (administration_id, name, token_hash, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, administration_id, name, created_at, created_by, last_used_at, revoked_at",
        )
        .bind(administration.0)
        .bind(name.to_string())
        .bind(hash)
        .bind(now)
        .bind(by.map(|u| u.0))
        .fetch_one(pool)
        .await)?;
        Ok((token, secret))
    }

    pub async fn datasync_tokens(&self, administration: AdministrationId) -> Result<Vec<FeedToken>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, administration_id, name, created_at, created_by, last_used_at, revoked_at \
             FROM datasync_feed_tokens WHERE administration_id = $1 ORDER BY id",
        )
        .bind(administration.0)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn datasync_revoke_token(&self, administration: AdministrationId, token: i64) -> Result<()> {
        let now = self.now();
        let changed = on_pool!(self.pool(), pool => sqlx::query(
            "UPDATE datasync_feed_tokens SET revoked_at = $3 WHERE id = $2 AND administration_id = $1 AND revoked_at IS NULL",
        )
        .bind(administration.0)
        .bind(token)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if changed == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Checks a feed token's secret. Last-used is written at most once a minute per token.
    pub async fn datasync_check_token(&self, secret: &str) -> Result<FeedTokenCheck> {
        let row: Option<TokenRow> = on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, administration_id, last_used_at, revoked_at FROM datasync_feed_tokens WHERE token_hash = $1",
        )
        .bind(hash_secret(secret))
        .fetch_optional(pool)
        .await)?;
        let Some((id, administration, last_used_at, revoked_at)) = row else {
            return Ok(FeedTokenCheck::Unknown);
        };
        let administration = AdministrationId(administration);
        if revoked_at.is_some() {
            return Ok(FeedTokenCheck::Revoked { administration });
        }
        let now = self.now();
        if last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
            on_pool!(self.pool(), pool => sqlx::query("UPDATE datasync_feed_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(FeedTokenCheck::Valid { administration })
    }

    /// Whether the administration still exists (a deleted sub closes its feed).
    pub async fn administration_exists(&self, administration: AdministrationId) -> Result<bool> {
        let found: Option<i64> = on_pool!(self.pool(), pool => sqlx::query_scalar("SELECT id FROM administrations WHERE id = $1")
            .bind(administration.0)
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// Committed syncs, newest first.
    pub async fn datasync_syncs(&self, administration: AdministrationId, limit: u32) -> Result<Vec<SyncRecord>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT sync_no, run_id, full_sync, change_position, started_at, committed_at, rows_inserted, rows_updated, \
             rows_deleted FROM datasync_syncs WHERE administration_id = $1 ORDER BY sync_no DESC LIMIT $2",
        )
        .bind(administration.0)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?)
    }

    /// One page of reporting rows at a pinned sync, in the order asked for.
    pub async fn reporting_rows(&self, read: &ReportingRead<'_>) -> Result<Vec<Vec<Value>>> {
        let sql = ReadSql::select(read, self.reporting_base(read).await?);
        let rows = on_pool!(self.pool(), pool => {
            let rows = bind_values(sqlx::query(AssertSqlSafe(sql.text.as_str())), &sql.binds)
                .fetch_all(pool)
                .await?;
            let mut decoded = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut values = Vec::with_capacity(read.columns.len());
                for (index, (_, storage)) in read.columns.iter().enumerate() {
                    values.push(decode_value(row, index, *storage)?);
                }
                decoded.push(values);
            }
            decoded
        });
        Ok(rows)
    }

    /// Streams the rows of a read into `rows` in batches of [`SEND_BATCH`] as they come from the
    /// database, so a reader never holds more than the channel's capacity. Stops early (without
    /// error) when the receiver is gone. Returns how many rows were sent.
    ///
    /// On SQLite the rows are read on a blocking thread straight from the connection (see
    /// `bulk::direct::read`): through sqlx every row would cross from its worker thread to this
    /// task on its own, and that hand-over cost more than reading the row.
    pub async fn reporting_send(
        &self,
        read: &ReportingRead<'_>,
        rows: tokio::sync::mpsc::Sender<Vec<Vec<Value>>>,
    ) -> Result<u64> {
        use futures_util::TryStreamExt;
        let sql = ReadSql::select(read, self.reporting_base(read).await?);
        match self.pool() {
            Pool::Sqlite(pool) => {
                let binds: Vec<Bound> = sql.binds.iter().map(Bound::of).collect();
                let storages: Vec<StorageType> = read.columns.iter().map(|(_, storage)| *storage).collect();
                let mut conn = pool.acquire().await?;
                let text = sql.text;
                let reader = tokio::task::spawn_blocking(move || -> Result<u64> {
                    let mut handle = tokio::runtime::Handle::current().block_on(conn.lock_handle())?;
                    direct::read(handle.as_raw_handle(), &text, &binds, &storages, SEND_BATCH, |batch| {
                        rows.blocking_send(batch).is_ok()
                    })
                    .map_err(|error| error.into_read_error(&text))
                });
                reader
                    .await
                    .map_err(|error| StoreError::Internal(format!("the SQLite reader of the feed stopped: {error}")))?
            }
            Pool::Postgres(pool) => {
                let mut stream = bind_values(sqlx::query(AssertSqlSafe(sql.text.as_str())), &sql.binds).fetch(pool);
                let mut sent = 0_u64;
                let mut batch = Vec::with_capacity(SEND_BATCH);
                while let Some(row) = stream.try_next().await? {
                    let mut values = Vec::with_capacity(read.columns.len());
                    for (index, (_, storage)) in read.columns.iter().enumerate() {
                        values.push(decode_value(&row, index, *storage)?);
                    }
                    batch.push(values);
                    if batch.len() == SEND_BATCH {
                        sent += batch.len() as u64;
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(SEND_BATCH));
                        if rows.send(full).await.is_err() {
                            return Ok(sent);
                        }
                    }
                }
                if !batch.is_empty() {
                    sent += batch.len() as u64;
                    let _ = rows.send(batch).await;
                }
                Ok(sent)
            }
        }
    }

    /// The base of a read's sync (see [`visible`]), looked up once so the read binds it as a value
    /// and the planner sees a plain range; 0 for the sync history, which has no versions.
    async fn reporting_base(&self, read: &ReportingRead<'_>) -> Result<i64> {
        if matches!(read.source, ReportingSource::Syncs) {
            return Ok(0);
        }
        let statement = format!("SELECT {}", base_of("$1", "$2"));
        let base: i64 = on_pool!(self.pool(), pool => sqlx::query_scalar(AssertSqlSafe(statement))
            .bind(read.administration.0)
            .bind(read.sync)
            .fetch_one(pool)
            .await)?;
        Ok(base)
    }

    /// How many rows a read matches at its pinned sync (ignoring order, paging and offset).
    pub async fn reporting_count(&self, read: &ReportingRead<'_>) -> Result<i64> {
        let sql = ReadSql::count(read, self.reporting_base(read).await?);
        let count: i64 = on_pool!(self.pool(), pool => {
            let row = bind_values(sqlx::query(AssertSqlSafe(sql.text.as_str())), &sql.binds)
                .fetch_one(pool)
                .await?;
            sqlx::Row::try_get(&row, 0)?
        });
        Ok(count)
    }
}

/// Rows per batch [`Store::reporting_send`] hands over.
pub const SEND_BATCH: usize = 256;

/// The kind name of the Data Sync job (its schedules are written here with Autosync).
pub const DATA_SYNC_KIND: &str = "data_sync";

/// SQL for a reporting read, with `$n` placeholders, and the values to bind to them in order.
#[derive(Debug, Default)]
struct ReadSql {
    text: String,
    binds: Vec<Value>,
}

impl ReadSql {
    fn bind(&mut self, value: Value) {
        self.binds.push(value);
        let _ = write!(self.text, "${}", self.binds.len());
    }

    fn push_pieces(&mut self, pieces: &[SqlPiece]) {
        for piece in pieces {
            match piece {
                SqlPiece::Sql(text) => self.text.push_str(text),
                SqlPiece::Bind(value) => self.bind(value.clone()),
            }
        }
    }

    /// `SELECT` columns, table, `WHERE`, order and paging.
    fn select(read: &ReportingRead<'_>, base: i64) -> ReadSql {
        let mut sql = ReadSql::default();
        sql.text.push_str("SELECT ");
        for (index, (column, _)) in read.columns.iter().enumerate() {
            if index > 0 {
                sql.text.push_str(", ");
            }
            sql.text.push_str(column);
        }
        sql.text.push_str(" FROM ");
        sql.text.push_str(&read.source.table());
        sql.push_where(read, base, true);
        sql.text.push_str(" ORDER BY ");
        for term in read.order {
            sql.push_pieces(term);
            sql.text.push_str(", ");
        }
        sql.text.push_str(read.source.key());
        sql.text.push_str(" ASC LIMIT ");
        sql.bind(Value::Integer(i64::try_from(read.limit).unwrap_or(i64::MAX)));
        sql.text.push_str(" OFFSET ");
        sql.bind(Value::Integer(i64::try_from(read.offset).unwrap_or(i64::MAX)));
        sql
    }

    /// `SELECT COUNT(*)` of what a read matches, ignoring its cursor, order and paging.
    fn count(read: &ReportingRead<'_>, base: i64) -> ReadSql {
        let mut sql = ReadSql::default();
        sql.text.push_str("SELECT COUNT(*) FROM ");
        sql.text.push_str(&read.source.table());
        sql.push_where(read, base, false);
        sql
    }

    /// `WHERE` for a reporting read: administration, pinned sync, keyset cursor, filter.
    fn push_where(&mut self, read: &ReportingRead<'_>, base: i64, with_cursor: bool) {
        self.text.push_str(" WHERE administration_id = ");
        self.bind(Value::Integer(read.administration.0));
        match read.source {
            ReportingSource::Entity(_) => {
                // The rule of `visible`, with the base looked up before.
                self.text.push_str(" AND valid_from >= ");
                self.bind(Value::Integer(base));
                self.text.push_str(" AND valid_from <= ");
                self.bind(Value::Integer(read.sync));
                self.text.push_str(" AND valid_to > ");
                self.bind(Value::Integer(read.sync));
            }
            ReportingSource::Syncs => {
                self.text.push_str(" AND sync_no <= ");
                self.bind(Value::Integer(read.sync));
            }
        }
        if with_cursor && let Some(after) = read.after_key {
            self.text.push_str(" AND ");
            self.text.push_str(read.source.key());
            self.text.push_str(" > ");
            self.bind(Value::Integer(after));
        }
        if !read.filter.is_empty() {
            self.text.push_str(" AND (");
            self.push_pieces(read.filter);
            self.text.push(')');
        }
    }
}

/// Binds a read's values with the store's [`bind_value!`] (a null as an integer: filters compare it
/// with `IS NULL` only).
fn bind_values<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    values: &[Value],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    chrono::NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<chrono::NaiveDate>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<DateTime<Utc>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for value in values {
        query = bind_value!(query, value, StorageType::Integer);
    }
    query
}

async fn ensure_state(tx: &mut Tx, administration: AdministrationId) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO datasync_state (administration_id) VALUES ($1) ON CONFLICT (administration_id) DO NOTHING",
    )
    .bind(administration.0)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Where an administration's syncs stand.
#[derive(Debug, Clone, Copy, Default)]
struct SyncState {
    /// The committed sync readers are pinned to.
    current: i64,
    /// The sync being written; ahead of `current` while a full sync runs or after one died part-way.
    pending: i64,
    /// The change position the committed sync covers.
    position: i64,
}

/// Reads the administration's sync state; on PostgreSQL the row stays locked until the transaction ends.
async fn sync_state(tx: &mut Tx, administration: AdministrationId, backend: Backend) -> Result<SyncState> {
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

fn sync_interrupted() -> StoreError {
    StoreError::conflict("sync_interrupted", "the sync was interrupted")
}

fn sync_busy() -> StoreError {
    StoreError::conflict(
        "sync_running",
        "another sync of this administration is running; this one stopped without changing anything",
    )
}

async fn pause_for_crash_test(administration: AdministrationId) {
    tracing::warn!(administration.id = %administration, "data sync paused for a crash test");
    std::future::pending::<()>().await;
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
async fn commit_sync(
    mut tx: Tx,
    administration: AdministrationId,
    request: &SyncRequest,
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

/// What a full sync's chunks share.
struct Chunking {
    administration: AdministrationId,
    sync_no: i64,
    /// The change position the chunks copy records up to.
    copied_up_to: i64,
    /// Whether a dead attempt may have left versions of `sync_no` behind.
    leftovers: bool,
    /// Source records per chunk; `None` copies each table in one chunk.
    rows: Option<i64>,
    hook: Option<ProgressHook>,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed migrations are the rendered ones. `KOPPEL_WRITE_SCHEMA=1` rewrites them (only
    /// while 0005 is not yet released).
    #[test]
    fn the_migration_files_are_the_rendered_schema() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let path = format!(
                "{}/migrations/{}/0005_datasync.sql",
                env!("CARGO_MANIFEST_DIR"),
                backend.name()
            );
            let rendered = render_migration(backend);
            if std::env::var_os("KOPPEL_WRITE_SCHEMA").is_some() {
                std::fs::write(&path, &rendered).expect("write migration");
            }
            let committed = std::fs::read_to_string(&path).expect("read migration");
            assert_eq!(committed, rendered, "{path} differs from render_migration");
        }
    }

    #[test]
    fn every_reported_set_has_a_modified_at_index_and_no_json() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let sql = render_migration(backend);
            for reported in REPORTED {
                assert!(sql.contains(&format!("{}_modified", reported.table())));
            }
        }
        assert!(
            REPORTED
                .iter()
                .all(|r| r.fields().all(|f| !matches!(f.kind, FieldKind::Json(_))))
        );
    }
}
