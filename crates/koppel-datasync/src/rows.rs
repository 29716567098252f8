//! Reads of reporting rows at a pinned sync: the SQL of one page (or a count) of an entity set or
//! the sync history, built from pieces the OData translation made ([`SqlPiece`]), and run through the
//! store's toolkit, which streams rows straight from the connection.
//!
//! These are the feed's building blocks; the web serves the feed through [`crate::read`], which
//! plans, pins and pages on top of them.

use crate::dataset::{ReportedResource, base_of};
use koppel_domain::AdministrationId;
use koppel_domain::record::{StorageType, Value};
use koppel_store::sql::{self, AssertSqlSafe, on_pool};
use koppel_store::{Result, Store, StoreError};
use std::fmt::Write;

/// Rows per batch [`send`] hands over.
pub const SEND_BATCH: usize = 256;

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

/// One page of reporting rows at a pinned sync, in the order asked for.
pub async fn fetch(store: &Store, read: &ReportingRead<'_>) -> Result<Vec<Vec<Value>>> {
    let sql = ReadSql::select(read, base(store, read).await?);
    sql::fetch_rows(store.pool(), &sql.text, &sql.binds, &storages(read)).await
}

/// Streams the rows of a read into `rows` in batches of [`SEND_BATCH`] as they come from the
/// database, so a reader never holds more than the channel's capacity. Stops early (without
/// error) when the receiver is gone. Returns how many rows were sent.
pub async fn send(
    store: &Store,
    read: &ReportingRead<'_>,
    rows: tokio::sync::mpsc::Sender<Vec<Vec<Value>>>,
) -> Result<u64> {
    let sql = ReadSql::select(read, base(store, read).await?);
    sql::send_rows(store.pool(), sql.text, sql.binds, storages(read), SEND_BATCH, rows).await
}

/// How many rows a read matches at its pinned sync (ignoring order, paging and offset).
pub async fn count(store: &Store, read: &ReportingRead<'_>) -> Result<i64> {
    let sql = ReadSql::count(read, base(store, read).await?);
    let rows = sql::fetch_rows(store.pool(), &sql.text, &sql.binds, &[StorageType::Integer]).await?;
    rows.first()
        .and_then(|row| row.first())
        .and_then(Value::as_i64)
        .ok_or_else(|| StoreError::Internal("a count answered no number".into()))
}

fn storages(read: &ReportingRead<'_>) -> Vec<StorageType> {
    read.columns.iter().map(|(_, storage)| *storage).collect()
}

/// The base of a read's sync (see [`crate::dataset::visible`]), looked up once so the read binds it
/// as a value and the planner sees a plain range; 0 for the sync history, which has no versions.
async fn base(store: &Store, read: &ReportingRead<'_>) -> Result<i64> {
    if matches!(read.source, ReportingSource::Syncs) {
        return Ok(0);
    }
    let statement = format!("SELECT {}", base_of("$1", "$2"));
    let base: i64 = on_pool!(store.pool(), pool => sqlx::query_scalar(AssertSqlSafe(statement))
        .bind(read.administration.0)
        .bind(read.sync)
        .fetch_one(pool)
        .await)?;
    Ok(base)
}

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
