//! The toolkit for writing SQL once for both backends: typed pools and transactions, and the macros
//! that run one SQL text on whichever backend is configured. Feature crates write their own queries
//! with it (`koppel_store::on_pool!`, `on_tx!`, `bind_value!`, [`decode_value`]); the store itself
//! uses the same toolkit.
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
