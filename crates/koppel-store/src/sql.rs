//! The toolkit for writing SQL once for both backends: typed pools and transactions, and the macros
//! that run one SQL text on whichever backend is configured. Feature crates write their own queries
//! with it (`koppel_store::on_pool!`, `on_tx!`, `bind_value!`, [`decode_value`]); the store itself
//! uses the same toolkit. Rows of a query built at run time come back decoded as stored values
//! ([`fetch_rows`]), or streamed in batches straight from the connection ([`send_rows`]).
//!
//! Both backends accept `$1, $2` placeholders, `RETURNING` and `ON CONFLICT`, so almost every statement
//! is written once. What differs (DDL, `FOR UPDATE SKIP LOCKED`, how a write transaction starts) is
//! chosen explicitly with [`Backend`].

use chrono::{DateTime, NaiveDate, Utc};
use koppel_domain::record::{StorageType, Value};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The store's connection pool, typed per backend; match on it (or use `on_pool!`) to run a query.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The backend's own transaction inside a [`crate::Tx`]; `on_tx!` matches on it.
pub enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$conn` bound to a connection of whichever backend `$pool` is.
#[macro_export]
macro_rules! on_pool {
    ($pool:expr, $conn:ident => $body:expr) => {
        match $pool {
            $crate::sql::Pool::Sqlite($conn) => $body,
            $crate::sql::Pool::Postgres($conn) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the open transaction's connection.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::sql::TxInner::Sqlite(transaction) => {
                let $conn = &mut **transaction;
                $body
            }
            $crate::sql::TxInner::Postgres(transaction) => {
                let $conn = &mut **transaction;
                $body
            }
        }
    };
}

/// Binds a stored value; nulls take their type from the field so PostgreSQL knows the parameter type.
#[macro_export]
macro_rules! bind_value {
    ($query:expr, $value:expr, $storage:expr) => {{
        use chrono::{DateTime, NaiveDate, Utc};
        use koppel_domain::record::{StorageType, Value};
        match ($value, $storage) {
            (Value::Null, StorageType::Integer) => $query.bind(None::<i64>),
            (Value::Null, StorageType::Text) => $query.bind(None::<String>),
            (Value::Null, StorageType::Bool) => $query.bind(None::<bool>),
            (Value::Null, StorageType::Date) => $query.bind(None::<NaiveDate>),
            (Value::Null, StorageType::Timestamp) => $query.bind(None::<DateTime<Utc>>),
            (Value::Integer(v), _) => $query.bind(*v),
            (Value::Text(v), _) => $query.bind(v.clone()),
            (Value::Bool(v), _) => $query.bind(*v),
            (Value::Date(v), _) => $query.bind(*v),
            (Value::Timestamp(v), _) => $query.bind(*v),
        }
    }};
}

pub use crate::{bind_value, on_pool, on_tx};
pub use sqlx::AssertSqlSafe;

/// Reads one column as a stored value of the given storage type.
pub fn decode_value<'r, R>(row: &'r R, index: usize, storage: StorageType) -> Result<Value, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
    Option<NaiveDate>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(match storage {
        StorageType::Integer => row
            .try_get::<Option<i64>, _>(index)?
            .map_or(Value::Null, Value::Integer),
        StorageType::Text => row
            .try_get::<Option<String>, _>(index)?
            .map_or(Value::Null, Value::Text),
        StorageType::Bool => row.try_get::<Option<bool>, _>(index)?.map_or(Value::Null, Value::Bool),
        StorageType::Date => row
            .try_get::<Option<NaiveDate>, _>(index)?
            .map_or(Value::Null, Value::Date),
        StorageType::Timestamp => row
            .try_get::<Option<DateTime<Utc>>, _>(index)?
            .map_or(Value::Null, Value::Timestamp),
    })
}

/// Runs a query whose placeholders are `$1`, `$2`, … and decodes every row by `storages`.
pub async fn fetch_rows(
    pool: &Pool,
    text: &str,
    binds: &[Value],
    storages: &[StorageType],
) -> Result<Vec<Vec<Value>>, crate::StoreError> {
    let rows = on_pool!(pool, pool => {
        let rows = bind_values(sqlx::query(AssertSqlSafe(text)), binds).fetch_all(pool).await?;
        let mut decoded = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(storages.len());
            for (index, storage) in storages.iter().enumerate() {
                values.push(decode_value(row, index, *storage)?);
            }
            decoded.push(values);
        }
        decoded
    });
    Ok(rows)
}

/// Streams the rows of a query (placeholders `$1`, `$2`, …), decoded by `storages`, into `rows` in
/// batches of `batch` as they come from the database, so the reader never holds more than the
/// channel's capacity. Stops early (without error) when the receiver is gone. Returns how many rows
/// were sent.
///
/// On SQLite the rows are read on a blocking thread straight from the connection (see
/// `sqlite_direct::read`): through sqlx every row would cross from its worker thread to this task on
/// its own, and that hand-over costs more than reading the row.
pub async fn send_rows(
    pool: &Pool,
    text: String,
    binds: Vec<Value>,
    storages: Vec<StorageType>,
    batch: usize,
    rows: tokio::sync::mpsc::Sender<Vec<Vec<Value>>>,
) -> Result<u64, crate::StoreError> {
    use crate::sqlite_direct::{self as direct, Bound};
    use futures_util::TryStreamExt;
    match pool {
        Pool::Sqlite(pool) => {
            let binds: Vec<Bound> = binds.iter().map(Bound::of).collect();
            let mut conn = pool.acquire().await?;
            let reader = tokio::task::spawn_blocking(move || -> Result<u64, crate::StoreError> {
                let mut handle = tokio::runtime::Handle::current().block_on(conn.lock_handle())?;
                direct::read(handle.as_raw_handle(), &text, &binds, &storages, batch, |rows_batch| {
                    rows.blocking_send(rows_batch).is_ok()
                })
                .map_err(|error| error.into_read_error(&text))
            });
            reader.await.map_err(|error| {
                crate::StoreError::Internal(format!("the SQLite reader of a row stream stopped: {error}"))
            })?
        }
        Pool::Postgres(pool) => {
            let mut stream = bind_values(sqlx::query(AssertSqlSafe(text.as_str())), &binds).fetch(pool);
            let mut sent = 0_u64;
            let mut full_batch = Vec::with_capacity(batch);
            while let Some(row) = stream.try_next().await? {
                let mut values = Vec::with_capacity(storages.len());
                for (index, storage) in storages.iter().enumerate() {
                    values.push(decode_value(&row, index, *storage)?);
                }
                full_batch.push(values);
                if full_batch.len() == batch {
                    sent += full_batch.len() as u64;
                    let full = std::mem::replace(&mut full_batch, Vec::with_capacity(batch));
                    if rows.send(full).await.is_err() {
                        return Ok(sent);
                    }
                }
            }
            if !full_batch.is_empty() {
                sent += full_batch.len() as u64;
                let _ = rows.send(full_batch).await;
            }
            Ok(sent)
        }
    }
}

/// Binds values in order with [`bind_value!`]; a null is bound as an integer, so these queries compare
/// a bound null with `IS NULL` only (PostgreSQL needs a type for it).
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
