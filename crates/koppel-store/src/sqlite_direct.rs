//! Direct work on a raw SQLite connection handle, borrowed from sqlx through its documented
//! `lock_handle` escape hatch: the bulk loader's multi-row inserts, streamed reads of query rows
//! (`sql::send_rows`), the busy handler that lets waiting writers in often, and the SQL functions
//! every connection gets so that one query computes on SQLite what PostgreSQL computes natively.
//! The only unsafe code in the store lives here.

use crate::StoreError;
use crate::bulk::{DateTexts, SharedColumns, bulk_message, statement_text};
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
    pub(crate) fn into_store_error(self, spec: &ResourceSpec) -> StoreError {
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

/// SQL functions that let one query compute on SQLite what PostgreSQL computes natively: full
/// Unicode case mapping, and exact integer arithmetic in 128 bits that gives null (never a float,
/// never an error) on overflow or division by zero. Registered on every connection.
const FUNCTIONS: &[(&CStr, c_int, Scalar)] = &[
    (c"unicode_lower", 1, unicode_lower),
    (c"unicode_upper", 1, unicode_upper),
    (c"exact_add", 2, exact_add),
    (c"exact_sub", 2, exact_sub),
    (c"exact_mul", 2, exact_mul),
    (c"exact_div", 3, exact_div),
    (c"exact_mod", 2, exact_mod),
    (c"exact_round", 2, exact_round),
    (c"exact_floor", 2, exact_floor),
    (c"exact_ceiling", 2, exact_ceiling),
    (c"micros_of", 1, micros_of),
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

integer_function!(exact_add, 2, |v| v[0].checked_add(v[1]));
integer_function!(exact_sub, 2, |v| v[0].checked_sub(v[1]));
integer_function!(exact_mul, 2, |v| v[0].checked_mul(v[1]));
// units × factor ÷ divisor, truncated toward zero (the factor rescales to the quotient's scale).
integer_function!(exact_div, 3, |v| v[0]
    .checked_mul(v[2])
    .and_then(|scaled| scaled.checked_div(v[1])));
integer_function!(exact_mod, 2, |v| v[0].checked_rem(v[1]));
// Rounding of units to a multiple of `factor` (10^scale).
integer_function!(exact_round, 2, |v| round_units(v[0], v[1], Rounding::HalfAway));
integer_function!(exact_floor, 2, |v| round_units(v[0], v[1], Rounding::Down));
integer_function!(exact_ceiling, 2, |v| round_units(v[0], v[1], Rounding::Up));

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

unsafe extern "C" fn unicode_lower(context: *mut ffi::sqlite3_context, _: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes one valid value and a valid context.
    unsafe { result_text(context, first_text(argv).map(|text| text.to_lowercase())) }
}

unsafe extern "C" fn unicode_upper(context: *mut ffi::sqlite3_context, _: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes one valid value and a valid context.
    unsafe { result_text(context, first_text(argv).map(|text| text.to_uppercase())) }
}

/// The microseconds within the second of an instant or time kept as text (`…:SS.ffffff…`).
unsafe extern "C" fn micros_of(context: *mut ffi::sqlite3_context, _: c_int, argv: *mut *mut ffi::sqlite3_value) {
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
pub(crate) fn sqlite_date(date: NaiveDate) -> String {
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
pub(crate) struct Rows<'a> {
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
pub(crate) fn insert(database: NonNull<ffi::sqlite3>, turn: Rows<'_>) -> Result<(), DirectError> {
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
                    Value::Timestamp(_) => statement.bind_text(index, timestamps.next().expect("formatted above"))?,
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
