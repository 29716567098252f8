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
                let rows = direct::Rows {
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
                        tokio::task::block_in_place(|| direct::insert(database, rows))
                    }
                    _ => direct::insert(database, rows),
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
struct SharedColumns {
    administration: i64,
    now: DateTime<Utc>,
    change_seq: i64,
}

fn bulk_message(spec: &ResourceSpec) -> String {
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
struct DateTexts(HashMap<NaiveDate, String>);

impl DateTexts {
    fn text(&mut self, date: NaiveDate) -> &str {
        self.0.entry(date).or_insert_with(|| direct::sqlite_date(date))
    }
}

/// The SQLite INSERT text for a number of rows, built once per size and kept. `?1..?3` hold the
/// administration, time and change position once; each row adds its id and fields as numbered
/// parameters, which the loader binds by number.
fn statement_text(spec: &ResourceSpec, rows: usize) -> Arc<str> {
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

/// Direct inserts and reads on a raw SQLite connection handle. The only unsafe code in the store
/// lives here.
pub(crate) mod direct {
    use super::{DateTexts, SharedColumns, bulk_message, statement_text};
    use crate::StoreError;
    use chrono::SecondsFormat;
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    use koppel_domain::RecordId;
    use koppel_domain::record::{ResourceSpec, StorageType, Value};
    use libsqlite3_sys as ffi;
    use std::ffi::{CStr, c_int};
    use std::ptr::{NonNull, null_mut};

    /// What SQLite reported, kept as codes until the caller knows which resource it was about.
    pub(crate) struct DirectError {
        extended_code: c_int,
        message: String,
    }

    impl DirectError {
        pub(super) fn into_store_error(self, spec: &ResourceSpec) -> StoreError {
            match self.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    StoreError::conflict("already_exists", format!("{} ({})", bulk_message(spec), self.message))
                }
                code if code & 0xff == ffi::SQLITE_CONSTRAINT => StoreError::invalid(
                    "rows",
                    "constraint",
                    format!(
                        "a bulk-loaded {} was rejected: {}",
                        spec.title.to_lowercase(),
                        self.message
                    ),
                ),
                _ => StoreError::Database(sqlx::Error::Protocol(format!(
                    "SQLite error {} while bulk-loading {}: {}",
                    self.extended_code, spec.slug, self.message
                ))),
            }
        }
    }

    impl DirectError {
        pub(crate) fn into_read_error(self, sql: &str) -> StoreError {
            StoreError::Database(sqlx::Error::Protocol(format!(
                "SQLite error {} while reading ({sql}): {}",
                self.extended_code, self.message
            )))
        }
    }

    /// How often a writer that waits for SQLite's write lock tries again. SQLite's own busy timeout
    /// sleeps up to 100 ms between tries, so a writer could miss the short gaps between the
    /// transactions of long work (a full Data Sync writes in chunks) again and again.
    const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(2);

    /// Makes the connection wait for a busy database by trying again every [`BUSY_POLL`], for about
    /// `timeout` in all (replacing SQLite's busy timeout).
    pub(crate) fn poll_for_lock_often(
        database: NonNull<ffi::sqlite3>,
        timeout: std::time::Duration,
    ) -> Result<(), sqlx::Error> {
        let tries = usize::try_from(timeout.as_millis() / BUSY_POLL.as_millis()).unwrap_or(usize::MAX);
        // SAFETY: valid connection handle, locked by the caller. The callback is a plain function; its
        // argument is the number of tries carried in the pointer value, never dereferenced.
        let code =
            unsafe { ffi::sqlite3_busy_handler(database.as_ptr(), Some(retry_soon), tries as *mut std::ffi::c_void) };
        if code == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(sqlx::Error::Protocol(format!(
                "SQLite refused the busy handler (code {code})"
            )))
        }
    }

    /// SQLite's busy callback: 0 gives up (the statement fails with SQLITE_BUSY), non-zero tries again.
    extern "C" fn retry_soon(max_tries: *mut std::ffi::c_void, tries: c_int) -> c_int {
        if usize::try_from(tries).unwrap_or(usize::MAX) >= max_tries as usize {
            return 0;
        }
        std::thread::sleep(BUSY_POLL);
        1
    }

    /// A scalar SQL function implemented in Rust.
    type Scalar = unsafe extern "C" fn(*mut ffi::sqlite3_context, c_int, *mut *mut ffi::sqlite3_value);

    /// The functions the feed's OData translation uses on SQLite (see `koppel_datasync::query`), so
    /// that SQLite computes what PostgreSQL computes: full Unicode case mapping, and exact integer
    /// arithmetic that gives null (never a float, never an error) on overflow or division by zero.
    const FUNCTIONS: &[(&CStr, c_int, Scalar)] = &[
        (c"odata_lower", 1, odata_lower),
        (c"odata_upper", 1, odata_upper),
        (c"odata_add", 2, odata_add),
        (c"odata_sub", 2, odata_sub),
        (c"odata_mul", 2, odata_mul),
        (c"odata_div", 3, odata_div),
        (c"odata_mod", 2, odata_mod),
        (c"odata_round", 2, odata_round),
        (c"odata_floor", 2, odata_floor),
        (c"odata_ceiling", 2, odata_ceiling),
        (c"odata_micros", 1, odata_micros),
    ];

    /// Registers [`FUNCTIONS`] on a connection (done for every connection of the pool).
    pub(crate) fn register_functions(database: NonNull<ffi::sqlite3>) -> Result<(), sqlx::Error> {
        for (name, arguments, function) in FUNCTIONS {
            // SAFETY: valid connection handle, locked by the caller; the name is a static C string;
            // the function pointer stays valid for the program's life and needs no user data.
            let code = unsafe {
                ffi::sqlite3_create_function_v2(
                    database.as_ptr(),
                    name.as_ptr(),
                    *arguments,
                    ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
                    null_mut(),
                    Some(*function),
                    None,
                    None,
                    None,
                )
            };
            if code != ffi::SQLITE_OK {
                return Err(sqlx::Error::Protocol(format!(
                    "SQLite refused the function {} (code {code})",
                    name.to_string_lossy()
                )));
            }
        }
        Ok(())
    }

    /// The arguments as integers, or `None` if one is null (or, impossibly here, not an integer).
    ///
    /// # Safety
    /// `argv` holds `count` valid values, as SQLite passes them to a function.
    unsafe fn integers<const N: usize>(count: c_int, argv: *mut *mut ffi::sqlite3_value) -> Option<[i128; N]> {
        if usize::try_from(count).ok()? != N {
            return None;
        }
        let mut values = [0_i128; N];
        for (index, slot) in values.iter_mut().enumerate() {
            // SAFETY: index < count, per the caller's contract.
            let value = unsafe { *argv.add(index) };
            // SAFETY: a valid value handed in by SQLite.
            if unsafe { ffi::sqlite3_value_type(value) } != ffi::SQLITE_INTEGER {
                return None;
            }
            // SAFETY: as above.
            *slot = i128::from(unsafe { ffi::sqlite3_value_int64(value) });
        }
        Some(values)
    }

    /// The first argument as text, or `None` if it is null.
    ///
    /// # Safety
    /// `argv` holds at least one valid value.
    unsafe fn first_text(argv: *mut *mut ffi::sqlite3_value) -> Option<String> {
        // SAFETY: per the caller's contract.
        let value = unsafe { *argv };
        // SAFETY: a valid value; the text pointer stays valid until the next call on this value,
        // and its length is read right after it.
        unsafe {
            if ffi::sqlite3_value_type(value) == ffi::SQLITE_NULL {
                return None;
            }
            let text = ffi::sqlite3_value_text(value);
            let length = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
            if text.is_null() {
                return Some(String::new());
            }
            let bytes = std::slice::from_raw_parts(text, length);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    /// Returns an integer, or null when there is none or it is beyond ±(2^63 − 1).
    ///
    /// # Safety
    /// `context` is the context SQLite passed to the function.
    unsafe fn result_integer(context: *mut ffi::sqlite3_context, value: Option<i128>) {
        match value.filter(|value| value.unsigned_abs() <= i64::MAX as u128) {
            // SAFETY: per the caller's contract; the value fits, as just checked.
            Some(value) => unsafe { ffi::sqlite3_result_int64(context, value as i64) },
            // SAFETY: per the caller's contract.
            None => unsafe { ffi::sqlite3_result_null(context) },
        }
    }

    /// Returns text (copied by SQLite), or null.
    ///
    /// # Safety
    /// `context` is the context SQLite passed to the function.
    unsafe fn result_text(context: *mut ffi::sqlite3_context, text: Option<String>) {
        match text.and_then(|text| Some((c_int::try_from(text.len()).ok()?, text))) {
            // SAFETY: per the caller's contract; SQLITE_TRANSIENT makes SQLite copy the bytes now.
            Some((length, text)) => unsafe {
                ffi::sqlite3_result_text(context, text.as_ptr().cast(), length, ffi::SQLITE_TRANSIENT())
            },
            // SAFETY: per the caller's contract.
            None => unsafe { ffi::sqlite3_result_null(context) },
        }
    }

    macro_rules! integer_function {
        ($name:ident, $count:literal, |$values:ident| $body:expr) => {
            unsafe extern "C" fn $name(
                context: *mut ffi::sqlite3_context,
                count: c_int,
                argv: *mut *mut ffi::sqlite3_value,
            ) {
                // SAFETY: SQLite passes `count` valid values and a valid context.
                unsafe {
                    let result = integers::<$count>(count, argv).and_then(|$values| $body);
                    result_integer(context, result);
                }
            }
        };
    }

    integer_function!(odata_add, 2, |v| v[0].checked_add(v[1]));
    integer_function!(odata_sub, 2, |v| v[0].checked_sub(v[1]));
    integer_function!(odata_mul, 2, |v| v[0].checked_mul(v[1]));
    // units × factor ÷ divisor, truncated toward zero (the factor rescales to the quotient's scale).
    integer_function!(odata_div, 3, |v| v[0]
        .checked_mul(v[2])
        .and_then(|scaled| scaled.checked_div(v[1])));
    integer_function!(odata_mod, 2, |v| v[0].checked_rem(v[1]));
    // Rounding of units to a multiple of `factor` (10^scale).
    integer_function!(odata_round, 2, |v| round_units(v[0], v[1], Rounding::HalfAway));
    integer_function!(odata_floor, 2, |v| round_units(v[0], v[1], Rounding::Down));
    integer_function!(odata_ceiling, 2, |v| round_units(v[0], v[1], Rounding::Up));

    enum Rounding {
        HalfAway,
        Down,
        Up,
    }

    fn round_units(units: i128, factor: i128, rounding: Rounding) -> Option<i128> {
        if factor <= 0 {
            return None;
        }
        let quotient = units / factor;
        let remainder = units % factor;
        let adjusted = match rounding {
            Rounding::HalfAway if remainder.abs() * 2 >= factor => quotient + remainder.signum(),
            Rounding::Down if remainder < 0 => quotient - 1,
            Rounding::Up if remainder > 0 => quotient + 1,
            _ => quotient,
        };
        adjusted.checked_mul(factor)
    }

    unsafe extern "C" fn odata_lower(context: *mut ffi::sqlite3_context, _: c_int, argv: *mut *mut ffi::sqlite3_value) {
        // SAFETY: SQLite passes one valid value and a valid context.
        unsafe { result_text(context, first_text(argv).map(|text| text.to_lowercase())) }
    }

    unsafe extern "C" fn odata_upper(context: *mut ffi::sqlite3_context, _: c_int, argv: *mut *mut ffi::sqlite3_value) {
        // SAFETY: SQLite passes one valid value and a valid context.
        unsafe { result_text(context, first_text(argv).map(|text| text.to_uppercase())) }
    }

    /// The microseconds within the second of an instant or time kept as text (`…:SS.ffffff…`).
    unsafe extern "C" fn odata_micros(
        context: *mut ffi::sqlite3_context,
        _: c_int,
        argv: *mut *mut ffi::sqlite3_value,
    ) {
        // SAFETY: SQLite passes one valid value and a valid context.
        unsafe {
            let micros = first_text(argv).map(|text| {
                let fraction = text.split_once('.').map_or("", |(_, after)| after);
                let digits: String = fraction.chars().take_while(char::is_ascii_digit).take(6).collect();
                format!("{digits:0<6}").parse::<i128>().unwrap_or(0)
            });
            result_integer(context, micros);
        }
    }

    /// A date as sqlx writes it to SQLite.
    pub(super) fn sqlite_date(date: NaiveDate) -> String {
        date.format("%F").to_string()
    }

    /// A timestamp as sqlx writes it to SQLite, so values written here compare and decode like any other.
    fn sqlite_timestamp(time: DateTime<Utc>) -> String {
        time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }

    /// A value bound to a read, in the form sqlx gives it to SQLite (so comparisons with stored values
    /// behave the same), owned until the statement is finalized.
    pub(crate) enum Bound {
        Null,
        Integer(i64),
        Text(String),
    }

    impl Bound {
        pub(crate) fn of(value: &Value) -> Bound {
            match value {
                Value::Null => Bound::Null,
                Value::Integer(v) => Bound::Integer(*v),
                Value::Bool(v) => Bound::Integer(i64::from(*v)),
                Value::Text(v) => Bound::Text(v.clone()),
                Value::Date(date) => Bound::Text(sqlite_date(*date)),
                Value::Timestamp(time) => Bound::Text(sqlite_timestamp(*time)),
            }
        }
    }

    /// Runs a query whose placeholders are `$1`, `$2`, … in order of appearance and hands its rows,
    /// decoded by `storages`, to `deliver` in batches of `batch`; stops when `deliver` says false.
    /// The caller holds sqlx's lock on the connection for the whole call.
    pub(crate) fn read(
        database: NonNull<ffi::sqlite3>,
        sql: &str,
        binds: &[Bound],
        storages: &[StorageType],
        batch: usize,
        mut deliver: impl FnMut(Vec<Vec<Value>>) -> bool,
    ) -> Result<u64, DirectError> {
        let statement = Statement::prepare(database.as_ptr(), sql)?;
        for (position, bound) in binds.iter().enumerate() {
            let index = c_int::try_from(position + 1).map_err(|_| too_big("parameter list"))?;
            match bound {
                Bound::Null => statement.bind_null(index)?,
                Bound::Integer(v) => statement.bind_i64(index, *v)?,
                // The texts live in `binds`, which outlives the statement.
                Bound::Text(v) => statement.bind_text(index, v)?,
            }
        }
        let mut sent = 0_u64;
        let mut rows = Vec::with_capacity(batch);
        loop {
            // SAFETY: valid statement whose parameters are bound to memory alive until it is finalized.
            match unsafe { ffi::sqlite3_step(statement.statement) } {
                ffi::SQLITE_ROW => {
                    let mut row = Vec::with_capacity(storages.len());
                    for (column, storage) in storages.iter().enumerate() {
                        let column = c_int::try_from(column).map_err(|_| too_big("column list"))?;
                        row.push(statement.column(column, *storage)?);
                    }
                    rows.push(row);
                    if rows.len() == batch {
                        sent += rows.len() as u64;
                        if !deliver(std::mem::replace(&mut rows, Vec::with_capacity(batch))) {
                            return Ok(sent);
                        }
                    }
                }
                ffi::SQLITE_DONE => break,
                _ => return Err(statement.error()),
            }
        }
        if !rows.is_empty() {
            sent += rows.len() as u64;
            deliver(rows);
        }
        Ok(sent)
    }

    fn undecodable(storage: StorageType, text: &str) -> DirectError {
        DirectError {
            extended_code: ffi::SQLITE_MISMATCH,
            message: format!("{text:?} is not a valid {storage:?} value"),
        }
    }

    /// The rows of one bulk insert.
    pub(super) struct Rows<'a> {
        pub spec: &'a ResourceSpec,
        pub rows_per_statement: usize,
        pub shared: &'a SharedColumns,
        pub ids: &'a [RecordId],
        pub rows: &'a [Vec<Value>],
    }

    /// A prepared statement, finalized however the insert ends.
    struct Statement {
        database: *mut ffi::sqlite3,
        statement: *mut ffi::sqlite3_stmt,
    }

    impl Drop for Statement {
        fn drop(&mut self) {
            // SAFETY: the statement was prepared on this connection, is not used after this point, and
            // the connection is still locked by the caller of `insert`. Finalizing NULL is a no-op.
            unsafe {
                ffi::sqlite3_finalize(self.statement);
            }
        }
    }

    impl Statement {
        fn prepare(database: *mut ffi::sqlite3, sql: &str) -> Result<Statement, DirectError> {
            let sql_length = c_int::try_from(sql.len()).map_err(|_| too_big("statement"))?;
            let mut statement = Statement {
                database,
                statement: null_mut(),
            };
            // SAFETY: the handle is a valid connection locked by the caller; the SQL pointer and length
            // describe live UTF-8; the out-pointer is a valid location for the statement handle.
            let code = unsafe {
                ffi::sqlite3_prepare_v3(
                    database,
                    sql.as_ptr().cast(),
                    sql_length,
                    ffi::SQLITE_PREPARE_PERSISTENT,
                    &mut statement.statement,
                    null_mut(),
                )
            };
            statement.check(code)?;
            Ok(statement)
        }

        fn error(&self) -> DirectError {
            // SAFETY: the handle is a valid, locked connection; errmsg returns a NUL-terminated string
            // owned by SQLite that stays valid until the next call on the connection, and is copied here.
            unsafe {
                DirectError {
                    extended_code: ffi::sqlite3_extended_errcode(self.database),
                    message: CStr::from_ptr(ffi::sqlite3_errmsg(self.database))
                        .to_string_lossy()
                        .into_owned(),
                }
            }
        }

        fn check(&self, code: c_int) -> Result<(), DirectError> {
            if code == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(self.error())
            }
        }

        fn bind_i64(&self, index: c_int, value: i64) -> Result<(), DirectError> {
            // SAFETY: valid statement; SQLite checks the index itself.
            self.check(unsafe { ffi::sqlite3_bind_int64(self.statement, index, value) })
        }

        /// Binds text without copying it (`SQLITE_STATIC`): SQLite reads it only while the statement
        /// steps, and every caller keeps the text alive and unchanged until that step has finished.
        fn bind_text(&self, index: c_int, value: &str) -> Result<(), DirectError> {
            let length = c_int::try_from(value.len()).map_err(|_| too_big("text"))?;
            // SAFETY: valid statement; the pointer and length describe live UTF-8 that outlives the next
            // `sqlite3_step` (see above); SQLITE_STATIC tells SQLite not to free it.
            self.check(unsafe {
                ffi::sqlite3_bind_text(
                    self.statement,
                    index,
                    value.as_ptr().cast(),
                    length,
                    ffi::SQLITE_STATIC(),
                )
            })
        }

        fn bind_null(&self, index: c_int) -> Result<(), DirectError> {
            // SAFETY: valid statement; SQLite checks the index itself.
            self.check(unsafe { ffi::sqlite3_bind_null(self.statement, index) })
        }

        /// Column `index` of the current row (the last step returned a row), decoded as sqlx would.
        fn column(&self, index: c_int, storage: StorageType) -> Result<Value, DirectError> {
            // SAFETY: valid statement positioned on a row; SQLite checks the column index and answers
            // NULL for one out of range.
            let kind = unsafe { ffi::sqlite3_column_type(self.statement, index) };
            if kind == ffi::SQLITE_NULL {
                return Ok(Value::Null);
            }
            Ok(match storage {
                // SAFETY: as above.
                StorageType::Integer => Value::Integer(unsafe { ffi::sqlite3_column_int64(self.statement, index) }),
                // SAFETY: as above.
                StorageType::Bool => Value::Bool(unsafe { ffi::sqlite3_column_int64(self.statement, index) } != 0),
                StorageType::Text => Value::Text(self.column_text(index)?.to_owned()),
                StorageType::Date => {
                    let text = self.column_text(index)?;
                    Value::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| undecodable(storage, text))?)
                }
                StorageType::Timestamp => {
                    let text = self.column_text(index)?;
                    let parsed = DateTime::parse_from_rfc3339(text)
                        .map(|time| time.with_timezone(&Utc))
                        .or_else(|_| {
                            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|time| time.and_utc())
                        });
                    Value::Timestamp(parsed.map_err(|_| undecodable(storage, text))?)
                }
            })
        }

        /// The text of column `index` of the current row, valid until the next step.
        fn column_text(&self, index: c_int) -> Result<&str, DirectError> {
            // SAFETY: valid statement positioned on a row. The text pointer stays valid until the next
            // step or finalize, which need `&self` mutably or by value, so not while the borrow lives;
            // `sqlite3_column_bytes` after `sqlite3_column_text` gives its length in bytes.
            let bytes = unsafe {
                let text = ffi::sqlite3_column_text(self.statement, index);
                if text.is_null() {
                    return Err(self.error());
                }
                let length = usize::try_from(ffi::sqlite3_column_bytes(self.statement, index)).unwrap_or(0);
                std::slice::from_raw_parts(text, length)
            };
            std::str::from_utf8(bytes).map_err(|_| DirectError {
                extended_code: ffi::SQLITE_MISMATCH,
                message: "a text column is not UTF-8".into(),
            })
        }

        /// Runs the statement with its current bindings and makes it ready for the next ones.
        fn run(&self) -> Result<(), DirectError> {
            // SAFETY: valid statement whose parameters are bound to memory that is alive right now.
            let stepped = unsafe { ffi::sqlite3_step(self.statement) };
            if stepped != ffi::SQLITE_DONE {
                let error = self.error();
                // SAFETY: valid statement; resetting after a failed step is how SQLite recovers it.
                unsafe { ffi::sqlite3_reset(self.statement) };
                return Err(error);
            }
            // SAFETY: valid statement; reset keeps the bindings, which the next run overwrites.
            self.check(unsafe { ffi::sqlite3_reset(self.statement) })
        }
    }

    fn too_big(what: &str) -> DirectError {
        DirectError {
            extended_code: ffi::SQLITE_TOOBIG,
            message: format!("{what} too long"),
        }
    }

    /// Inserts the rows with multi-row statements, each shape prepared once. The caller holds sqlx's lock
    /// on the connection for the whole call, so sqlx's worker thread makes no SQLite calls meanwhile.
    pub(super) fn insert(database: NonNull<ffi::sqlite3>, turn: Rows<'_>) -> Result<(), DirectError> {
        let database = database.as_ptr();
        // Every text a statement reads is formatted before it is bound and kept until the statement has
        // run: the shared timestamp (as sqlx writes timestamps for SQLite, so bulk rows compare and
        // decode like any other), each day once, and the timestamp fields of the rows in flight.
        let now = sqlite_timestamp(turn.shared.now);
        let mut dates = DateTexts::default();
        for row in turn.rows {
            for value in row {
                if let Value::Date(date) = value {
                    dates.text(*date);
                }
            }
        }
        let mut timestamp_texts: Vec<String> = Vec::new();
        let mut prepared: Option<(usize, Statement)> = None;
        for (ids, rows) in turn
            .ids
            .chunks(turn.rows_per_statement)
            .zip(turn.rows.chunks(turn.rows_per_statement))
        {
            if prepared.as_ref().is_none_or(|(size, _)| *size != rows.len()) {
                let sql = statement_text(turn.spec, rows.len());
                let statement = Statement::prepare(database, &sql)?;
                statement.bind_i64(1, turn.shared.administration)?;
                statement.bind_text(2, &now)?;
                statement.bind_i64(3, turn.shared.change_seq)?;
                prepared = Some((rows.len(), statement));
            }
            let (_, statement) = prepared.as_ref().expect("prepared above");
            timestamp_texts.clear();
            for row in rows {
                for value in row {
                    if let Value::Timestamp(time) = value {
                        timestamp_texts.push(sqlite_timestamp(*time));
                    }
                }
            }
            let mut timestamps = timestamp_texts.iter();
            let mut index: c_int = 4;
            for (id, row) in ids.iter().zip(rows) {
                statement.bind_i64(index, id.0)?;
                index += 1;
                for value in row {
                    match value {
                        Value::Null => statement.bind_null(index)?,
                        Value::Integer(v) => statement.bind_i64(index, *v)?,
                        Value::Bool(v) => statement.bind_i64(index, i64::from(*v))?,
                        Value::Text(v) => statement.bind_text(index, v)?,
                        Value::Date(date) => statement.bind_text(index, &dates.0[date])?,
                        Value::Timestamp(_) => {
                            statement.bind_text(index, timestamps.next().expect("formatted above"))?
                        }
                    }
                    index += 1;
                }
            }
            statement.run()?;
        }
        // The prepared statement goes before the texts it may still point at.
        drop(prepared);
        Ok(())
    }
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
