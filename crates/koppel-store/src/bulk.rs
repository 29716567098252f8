//! Bulk loading of trusted, generated records (demo data and benchmarks): ids reserved up front so
//! child rows can name their parents before anything is written, and inserts that run at the speed of
//! the database rather than of one request per row.
//!
//! Nothing here checks references or rules: the caller generated the rows itself and vouches for them.
//! The database still enforces NOT NULL, foreign keys and unique numbers, so a mistake in a generator
//! fails loudly instead of leaving bad data behind. Every row is stamped with the transaction's change
//! position and time, exactly like a row written through [`WriteTx::insert`], so change tracking and
//! Data Sync see bulk-loaded rows like any other.
//!
//! The backends differ on purpose. PostgreSQL gets `COPY … FROM STDIN` in the text format: one stream
//! per resource instead of a round trip and a parse per statement. SQLite runs in-process, where the
//! cost is not the round trip but sqlx's hand-over of every statement to its worker thread and a copy of
//! every value; there the loader borrows the raw connection (sqlx's documented `lock_handle` escape
//! hatch), prepares one multi-row INSERT and binds values in place, the columns all rows share only once.
//! Large statements matter on SQLite beyond the binding: cursors stay positioned between rows, so
//! appending to a table or index needs no descent from the root, and the statement journal a multi-row
//! INSERT keeps (foreign keys may abort it) is written once per statement rather than once per few rows.
//! The page cache of a connection that bulk-loads is raised to [`SQLITE_BULK_CACHE_KIB`], because the
//! random parts of the work (foreign-key lookups, indexes on relations) otherwise read pages back from
//! the operating system over and over; SQLite allocates that cache only as it fills, and sqlx retires
//! pooled connections after their lifetime.
//!
//! What remains is the databases' own work, and it is most of the time: every row updates six to eleven
//! indexes and has its foreign keys checked (on PostgreSQL by a trigger per key per row).

use crate::sql::{TxInner, on_tx};
use crate::{Result, StoreError, WriteTx, map_unique};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use koppel_domain::RecordId;
use koppel_domain::record::{ResourceSpec, Value};
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// SQLite's limit on the number of a bind parameter (`SQLITE_MAX_VARIABLE_NUMBER`, since 3.32).
pub const SQLITE_MAX_PARAMETERS: usize = 32_766;
/// Rows per SQLite statement at most. Measured on a 2-core machine: below a few hundred rows the
/// statement journal and per-statement work dominate, above a thousand parsing the statement does.
const SQLITE_MAX_ROWS_PER_STATEMENT: usize = 512;
/// Page cache of a connection that bulk-loads, in KiB (SQLite's negative `cache_size`).
pub const SQLITE_BULK_CACHE_KIB: i64 = 262_144;

/// Columns Koppel maintains on every record, written before the spec's fields.
const SYSTEM_COLUMNS: &str = "id, administration_id, created_at, modified_at, change_seq";

impl WriteTx {
    /// Reserves `count` new ids of a resource's table for rows this transaction will insert with
    /// [`WriteTx::bulk_insert_with_ids`].
    ///
    /// The ids are never handed out again, also not when the transaction rolls back on PostgreSQL
    /// (sequences are not transactional) — the same gap an ordinary failed insert leaves. On SQLite
    /// the reservation is part of the `BEGIN IMMEDIATE` transaction, so no other writer can take the
    /// same ids, and it advances `sqlite_sequence` so `AUTOINCREMENT` never reuses them either.
    pub async fn reserve_ids(&mut self, spec: &ResourceSpec, count: usize) -> Result<Vec<RecordId>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let count_i64 = i64::try_from(count).map_err(|_| StoreError::invalid("rows", "too_many", "too many rows"))?;
        match &mut self.tx.inner {
            TxInner::Sqlite(transaction) => {
                let conn = &mut **transaction;
                let statement = format!(
                    "SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), \
                     COALESCE((SELECT seq FROM sqlite_sequence WHERE name = $1), 0))",
                    table = spec.table
                );
                let highest: i64 = sqlx::query_scalar(AssertSqlSafe(statement))
                    .bind(spec.table)
                    .fetch_one(&mut *conn)
                    .await?;
                let last = highest + count_i64;
                let updated = sqlx::query("UPDATE sqlite_sequence SET seq = $2 WHERE name = $1")
                    .bind(spec.table)
                    .bind(last)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    // The table never had a row: AUTOINCREMENT creates its counter on the first insert.
                    sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ($1, $2)")
                        .bind(spec.table)
                        .bind(last)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok((highest + 1..=last).map(RecordId).collect())
            }
            TxInner::Postgres(transaction) => {
                let conn = &mut **transaction;
                // Sequences hand out values atomically, so concurrent writers get disjoint ids; they
                // need not be consecutive, which is why the ids come back as a list.
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT nextval(sequence.name::regclass) \
                     FROM (SELECT pg_get_serial_sequence($1, 'id') AS name) AS sequence, generate_series(1, $2)",
                )
                .bind(spec.table)
                .bind(count_i64)
                .fetch_all(conn)
                .await?;
                Ok(ids.into_iter().map(RecordId).collect())
            }
        }
    }

    /// Reserves ids for the rows and inserts them; returns the ids in row order.
    pub async fn bulk_insert(&mut self, spec: &ResourceSpec, rows: &[Vec<Value>]) -> Result<Vec<RecordId>> {
        let ids = self.reserve_ids(spec, rows.len()).await?;
        self.bulk_insert_with_ids(spec, &ids, rows).await?;
        Ok(ids)
    }

    /// Inserts trusted rows (one value per spec field, in spec order) under ids reserved with
    /// [`WriteTx::reserve_ids`].
    pub async fn bulk_insert_with_ids(
        &mut self,
        spec: &ResourceSpec,
        ids: &[RecordId],
        rows: &[Vec<Value>],
    ) -> Result<()> {
        if ids.len() != rows.len() {
            return Err(StoreError::invalid(
                "rows",
                "invalid",
                format!("{} ids for {} rows of {}", ids.len(), rows.len(), spec.slug),
            ));
        }
        if let Some(row) = rows.iter().find(|row| row.len() != spec.fields.len()) {
            return Err(StoreError::invalid(
                "rows",
                "invalid",
                format!(
                    "a row of {} has {} values, the resource has {} fields",
                    spec.slug,
                    row.len(),
                    spec.fields.len()
                ),
            ));
        }
        let shared = SharedColumns {
            administration: self.administration.0,
            now: self.tx.now,
            change_seq: self.change_seq,
        };
        match &mut self.tx.inner {
            TxInner::Sqlite(transaction) => {
                let conn: &mut sqlx::SqliteConnection = transaction;
                sqlx::query(AssertSqlSafe(format!("PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")))
                    .execute(&mut *conn)
                    .await?;
                let mut handle = conn.lock_handle().await?;
                let database = handle.as_raw_handle();
                let rows = crate::sqlite_direct::Rows {
                    spec,
                    rows_per_statement: sqlite_rows_per_statement(spec.fields.len()),
                    shared: &shared,
                    ids,
                    rows,
                };
                // SQLite does the work on this thread. On a multi-threaded runtime the other tasks of this
                // worker move elsewhere meanwhile; a current-thread runtime (tests) simply waits.
                let inserted = match tokio::runtime::Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
                    Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                        tokio::task::block_in_place(|| crate::sqlite_direct::insert(database, rows))
                    }
                    _ => crate::sqlite_direct::insert(database, rows),
                };
                drop(handle);
                inserted.map_err(|error| error.into_store_error(spec))?;
            }
            TxInner::Postgres(transaction) => {
                let conn: &mut sqlx::PgConnection = transaction;
                let statement = copy_statement(spec);
                let mut copy = conn
                    .copy_in_raw(&statement)
                    .await
                    .map_err(|error| map_unique(error, || bulk_message(spec)))?;
                let mut buffer = Vec::with_capacity(COPY_BUFFER_BYTES + 4_096);
                let shared_text = format!(
                    "\t{administration}\t{now}\t{now}\t{change_seq}",
                    administration = shared.administration,
                    now = shared.now.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    change_seq = shared.change_seq
                );
                for (id, row) in ids.iter().zip(rows) {
                    copy_row(&mut buffer, id.0, &shared_text, row);
                    if buffer.len() >= COPY_BUFFER_BYTES {
                        copy.send(buffer.as_slice()).await?;
                        buffer.clear();
                    }
                }
                if !buffer.is_empty() {
                    copy.send(buffer.as_slice()).await?;
                }
                copy.finish()
                    .await
                    .map_err(|error| map_unique(error, || bulk_message(spec)))?;
            }
        }
        Ok(())
    }

    /// Takes `count` consecutive numbers of a named sequence at once (the bulk form of
    /// [`WriteTx::next_number`]) and returns the first. Bulk-generated invoice and work-order numbers
    /// reserve their range here so numbers given out later one at a time continue after them.
    pub async fn reserve_numbers(&mut self, name: &str, count: i64) -> Result<i64> {
        if count < 1 {
            return Err(StoreError::invalid("count", "invalid", "reserve at least one number"));
        }
        let administration = self.administration.0;
        let first: i64 = on_tx!(self.tx, conn => sqlx::query_scalar(
            "INSERT INTO number_sequences (administration_id, name, next_value) VALUES ($1, $2, $3 + 1) \
             ON CONFLICT (administration_id, name) DO UPDATE SET next_value = number_sequences.next_value + $3 \
             RETURNING next_value - $3",
        )
        .bind(administration)
        .bind(name.to_string())
        .bind(count)
        .fetch_one(conn)
        .await)?;
        Ok(first)
    }
}

impl crate::Store {
    /// Tidies the tables of a finished bulk load. On PostgreSQL: `VACUUM (ANALYZE)`, which gives the
    /// planner statistics for tables that grew by orders of magnitude and marks the new rows visible
    /// to all, so the first reader (a first Data Sync, say) does not rewrite every page to set hint
    /// bits; autovacuum would do the same later, and a server may run without it. On SQLite nothing
    /// is needed: its planner works from the indexes, and rows need no visibility marking.
    pub async fn finish_bulk_load(&self, specs: &[&ResourceSpec]) -> Result<()> {
        if let crate::sql::Pool::Postgres(pool) = self.pool() {
            for spec in specs {
                sqlx::query(AssertSqlSafe(format!("VACUUM (ANALYZE) {}", spec.table)))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The columns every row of one bulk insert shares.
pub(crate) struct SharedColumns {
    pub(crate) administration: i64,
    pub(crate) now: DateTime<Utc>,
    pub(crate) change_seq: i64,
}

pub(crate) fn bulk_message(spec: &ResourceSpec) -> String {
    format!(
        "a bulk-loaded {} collides with an existing one",
        spec.title.to_lowercase()
    )
}

fn sqlite_rows_per_statement(field_count: usize) -> usize {
    SQLITE_MAX_ROWS_PER_STATEMENT.min((SQLITE_MAX_PARAMETERS - 3) / (field_count + 1))
}

/// Bytes of COPY data sent to PostgreSQL at a time.
const COPY_BUFFER_BYTES: usize = 1 << 20;

/// `COPY table (columns) FROM STDIN` in PostgreSQL's text format.
fn copy_statement(spec: &ResourceSpec) -> String {
    let field_names: Vec<&str> = spec.fields.iter().map(|field| field.name).collect();
    format!(
        "COPY {} ({SYSTEM_COLUMNS}, {}) FROM STDIN (FORMAT text)",
        spec.table,
        field_names.join(", ")
    )
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, and backslash, tab, newline and
/// carriage return escaped inside text, so any text a record may hold arrives unchanged.
fn copy_row(buffer: &mut Vec<u8>, id: i64, shared_text: &str, row: &[Value]) {
    let _ = write!(Utf8(buffer), "{id}{shared_text}");
    for value in row {
        buffer.push(b'\t');
        match value {
            Value::Null => buffer.extend_from_slice(b"\\N"),
            Value::Integer(v) => {
                let _ = write!(Utf8(buffer), "{v}");
            }
            Value::Bool(v) => buffer.push(if *v { b't' } else { b'f' }),
            Value::Date(v) => {
                let _ = write!(Utf8(buffer), "{}", v.format("%F"));
            }
            Value::Timestamp(v) => {
                let _ = write!(Utf8(buffer), "{}", v.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            }
            Value::Text(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => buffer.extend_from_slice(b"\\\\"),
                        b'\t' => buffer.extend_from_slice(b"\\t"),
                        b'\n' => buffer.extend_from_slice(b"\\n"),
                        b'\r' => buffer.extend_from_slice(b"\\r"),
                        other => buffer.push(other),
                    }
                }
            }
        }
    }
    buffer.push(b'\n');
}

/// Lets `write!` format numbers and dates straight into a byte buffer.
struct Utf8<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// Dates as sqlx writes them for SQLite (`YYYY-MM-DD`), formatted once per day rather than per row.
#[derive(Default)]
pub(crate) struct DateTexts(pub(crate) HashMap<NaiveDate, String>);

impl DateTexts {
    pub(crate) fn text(&mut self, date: NaiveDate) -> &str {
        self.0
            .entry(date)
            .or_insert_with(|| crate::sqlite_direct::sqlite_date(date))
    }
}

/// The SQLite INSERT text for a number of rows, built once per size and kept. `?1..?3` hold the
/// administration, time and change position once; each row adds its id and fields as numbered
/// parameters, which the loader binds by number.
pub(crate) fn statement_text(spec: &ResourceSpec, rows: usize) -> Arc<str> {
    type Cache = Mutex<HashMap<(&'static str, usize), Arc<str>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = (spec.slug, rows);
    if let Some(text) = cache.lock().expect("statement cache").get(&key) {
        return text.clone();
    }
    let field_names: Vec<&str> = spec.fields.iter().map(|field| field.name).collect();
    let mut text = format!(
        "INSERT INTO {} ({SYSTEM_COLUMNS}, {}) VALUES ",
        spec.table,
        field_names.join(", ")
    );
    let mut parameter = 4;
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "(?{parameter}, ?1, ?2, ?2, ?3");
        parameter += 1;
        for _ in 0..field_names.len() {
            let _ = write!(text, ", ?{parameter}");
            parameter += 1;
        }
        text.push(')');
    }
    let text: Arc<str> = Arc::from(text);
    cache.lock().expect("statement cache").insert(key, text.clone());
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use koppel_domain::resources::WORK_ORDER_HOURS;

    #[test]
    fn sqlite_statements_stay_under_the_parameter_limit() {
        let fields = WORK_ORDER_HOURS.fields.len();
        let rows = sqlite_rows_per_statement(fields);
        assert!(3 + rows * (fields + 1) <= SQLITE_MAX_PARAMETERS);
        let text = statement_text(&WORK_ORDER_HOURS, 2);
        assert!(text.ends_with(&format!("?{})", 3 + 2 * (fields + 1))), "{text}");
    }

    #[test]
    fn copy_rows_escape_what_the_text_format_would_misread() {
        let mut buffer = Vec::new();
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let time = Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap();
        copy_row(
            &mut buffer,
            7,
            "\t1",
            &[
                Value::Text("a\tb\\c\nd".into()),
                Value::Null,
                Value::Integer(-5),
                Value::Bool(true),
                Value::Date(day),
                Value::Timestamp(time),
            ],
        );
        assert_eq!(
            String::from_utf8(buffer).unwrap(),
            "7\t1\ta\\tb\\\\c\\nd\t\\N\t-5\tt\t2026-11-22\t2026-11-22T09:30:00Z\n"
        );
    }
}
