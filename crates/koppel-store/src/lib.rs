//! The storage contract of Koppel and its two implementations, SQLite (embedded default) and
//! PostgreSQL, behind one [`Store`].
//!
//! All query text is shared between the backends except where the dialects differ, which
//! [`Backend`] makes explicit. Every write to an administration's records goes through a [`WriteTx`],
//! which takes the administration's next change position first; see [`changes`] for why.

pub mod sql;

pub mod bulk;
pub mod changes;
pub mod clock;
pub mod invoicing;
pub mod logins;
pub mod platform;
pub mod records;
pub mod schema;
pub mod set_write;
#[allow(unsafe_code)] // raw SQLite statements on a connection locked through sqlx; see the module
mod sqlite_direct;
pub mod upserts;
pub mod usage;
pub mod work_orders;

pub use clock::{Clock, FixedClock, SystemClock};
pub use sql::Backend;

use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_domain::licence::LicenceError;
use koppel_domain::record::FieldError;
use sql::{Pool, TxInner};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Everything that can go wrong in the store, in terms the web layer can map to an answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("invalid: {0:?}")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Licence(#[from] LicenceError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database URL: {0}")]
    Url(String),
    /// The database server could not be reached when connecting (closed port, unknown host, no
    /// answer). `address` is host:port, `url` the URL with its secrets hidden.
    #[error("cannot reach the database at {address} ({url}): {cause}")]
    Unreachable {
        address: String,
        url: String,
        cause: String,
    },
    /// Something went wrong inside Koppel itself (a background task panicked, say).
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Whether trying again later may succeed (the pool or the database was busy).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
        ) || matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5"))
    }

    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid(vec![FieldError::new(field, code, message)])
    }
}

impl StoreError {
    /// Whether the database refused a statement for its size or nesting (a feed query with
    /// thousands of terms, say): the request's fault, not the server's. PostgreSQL's SQLSTATE class
    /// 54 (program limit exceeded); SQLite's limit messages (also as the direct row reader of
    /// `sql::send_rows` reports them).
    pub fn is_statement_too_complex(&self) -> bool {
        const SQLITE_LIMITS: [&str; 7] = [
            "Expression tree is too large",
            "too many terms in",
            "too many SQL variables",
            "parser stack overflow",
            "too many arguments on function",
            "too many FROM clause terms",
            "too many columns",
        ];
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => {
                error
                    .code()
                    .is_some_and(|code| code.len() == 5 && code.starts_with("54"))
                    || SQLITE_LIMITS.iter().any(|limit| error.message().contains(limit))
            }
            StoreError::Database(sqlx::Error::Protocol(message)) => {
                message.starts_with("SQLite error") && SQLITE_LIMITS.iter().any(|limit| message.contains(limit))
            }
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `sqlite://path/to/file.db`, `sqlite::memory:` or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
}

/// The store: a pool on one backend plus the clock every timestamp comes from.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    clock: Arc<dyn Clock>,
}

/// How long a SQLite writer waits for the write lock (it tries again every few milliseconds).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long opening the PostgreSQL pool (and later, taking a connection from it) may take.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why connecting failed, in words an operator can act on. sqlx's pool only says "pool timed out"
/// when the server never answered (closed port, a host that drops packets); one direct attempt
/// then shows the cause (connection refused, unknown host), and the message names where it tried.
async fn unreachable_or(error: sqlx::Error, connect: &PgConnectOptions, url: &str) -> StoreError {
    let cause = match error {
        sqlx::Error::PoolTimedOut => {
            use sqlx::Connection;
            match tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(connect)).await {
                Err(_) => format!("no answer within {} s", POSTGRES_CONNECT_TIMEOUT.as_secs()),
                Ok(Err(sqlx::Error::Io(io))) => io.to_string(),
                // It answered after all: report what the server said.
                Ok(Err(other)) => return StoreError::Database(other),
                Ok(Ok(connection)) => {
                    let _ = connection.close().await;
                    format!(
                        "no connection within {} s (the server is slow or refuses more connections)",
                        POSTGRES_CONNECT_TIMEOUT.as_secs()
                    )
                }
            }
        }
        sqlx::Error::Io(io) => io.to_string(),
        other => return StoreError::Database(other),
    };
    StoreError::Unreachable {
        address: database_address(url),
        url: redact_url(url),
        cause,
    }
}

/// Owner-only permissions on the SQLite database and its directory.
mod file_permissions {
    use super::{Result, StoreError};
    use std::path::Path;

    /// Creates the database's directory (0700) and an empty database file (0600) when missing, and
    /// narrows the permissions of existing ones; SQLite's `-wal` and `-shm` files take the main
    /// file's permissions. Nothing to do for an in-memory database.
    pub(super) fn restrict(file: &Path) -> Result<()> {
        let text = file.to_string_lossy();
        if text.is_empty() || text == ":memory:" || text.starts_with("file::memory:") {
            return Ok(());
        }
        let fail =
            |what: &str, error: std::io::Error| StoreError::Url(format!("cannot {what} {}: {error}", file.display()));
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty() && !dir.exists()) {
            create_private_dir(dir).map_err(|e| fail("create the directory of", e))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(file)
                .map_err(|e| fail("create", e))?;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail("protect", e))?;
            for suffix in ["-wal", "-shm"] {
                let mut side = file.as_os_str().to_owned();
                side.push(suffix);
                let side = Path::new(&side);
                if side.exists() {
                    std::fs::set_permissions(side, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| fail("protect", e))?;
                }
            }
        }
        Ok(())
    }

    /// Creates a directory (and missing parents) that only its owner can enter.
    pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)
    }
}

pub use file_permissions::create_private_dir;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish()
    }
}

impl Store {
    /// Opens the database. SQLite files are created when missing and run in WAL mode.
    pub async fn connect(options: &ConnectOptions, clock: Arc<dyn Clock>) -> Result<Store> {
        let pool = if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(&options.url).map_err(|e| StoreError::Url(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(POSTGRES_CONNECT_TIMEOUT)
                .connect_with(connect.clone())
                .await;
            match pool {
                Ok(pool) => Pool::Postgres(pool),
                Err(error) => return Err(unreachable_or(error, &connect, &options.url).await),
            }
        } else if options.url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(&options.url).map_err(|e| StoreError::Url(e.to_string()))?;
            // The database holds password hashes, session and feed-token hashes and encrypted
            // AccountView tokens: only Koppel's own user may read it (0600, its directory 0700).
            file_permissions::restrict(connect.get_filename())?;
            let connect = connect
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            let in_memory = options.url.contains(":memory:");
            let pool = SqlitePoolOptions::new()
                // An in-memory database lives in one connection; a file is shared by a small pool.
                .max_connections(if in_memory { 1 } else { options.max_connections.max(1) })
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        let mut handle = conn.lock_handle().await?;
                        sqlite_direct::register_functions(handle.as_raw_handle())?;
                        sqlite_direct::poll_for_lock_often(handle.as_raw_handle(), SQLITE_BUSY_TIMEOUT)
                    })
                })
                .connect_with(connect)
                .await?;
            Pool::Sqlite(pool)
        } else {
            return Err(StoreError::Url(format!(
                "'{}' is neither a sqlite: nor a postgres:// URL",
                redact_url(&options.url)
            )));
        };
        Ok(Store { pool, clock })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The current time, truncated to microseconds so it survives both backends unchanged.
    pub fn now(&self) -> DateTime<Utc> {
        clock::truncate(self.clock.now())
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sql::on_pool!(&self.pool, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        sql::on_pool!(&self.pool, pool => pool.close().await)
    }

    /// Starts a transaction that writes to one administration's records.
    ///
    /// It takes the administration's next change position at once. On PostgreSQL that row stays locked
    /// until commit; on SQLite the transaction starts with `BEGIN IMMEDIATE`, which serialises writers.
    /// Either way, positions become visible in the order they were handed out.
    pub async fn write(&self, administration: AdministrationId) -> Result<WriteTx> {
        let mut tx = self.begin().await?;
        let position: Option<i64> = on_tx!(tx, conn => sqlx::query_scalar(
            "UPDATE change_counters SET position = position + 1 WHERE administration_id = $1 RETURNING position",
        )
        .bind(administration.0)
        .fetch_optional(conn)
        .await)?;
        let change_seq = position.ok_or(StoreError::NotFound)?;
        // Stamp the rows with the time the position was taken, not the time the transaction began: on
        // PostgreSQL a writer may have waited above for an earlier one, and its rows must not look
        // older than that writer's (clients that sync on `modified_at` would skip them).
        tx.now = self.now();
        Ok(WriteTx {
            tx,
            administration,
            change_seq,
        })
    }

    /// Starts a plain transaction (platform tables, reads that must be consistent).
    pub async fn begin(&self) -> Result<Tx> {
        self.begin_with("BEGIN IMMEDIATE", "BEGIN").await
    }

    /// Starts a writing transaction with the given `BEGIN` statement per backend.
    pub async fn begin_with(&self, sqlite: &'static str, postgres: &'static str) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin_with(sqlite).await?),
            Pool::Postgres(pool) => TxInner::Postgres(pool.begin_with(postgres).await?),
        };
        Ok(Tx { inner, now: self.now() })
    }

    /// Starts a read-only transaction that sees one consistent snapshot.
    pub async fn snapshot(&self) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin_with("BEGIN DEFERRED").await?),
            Pool::Postgres(pool) => TxInner::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        };
        Ok(Tx { inner, now: self.now() })
    }

    /// The pool, for feature crates' own queries (see [`sql`]).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// An open transaction on either backend.
pub struct Tx {
    /// The backend's transaction, for `on_tx!`.
    pub inner: TxInner,
    /// The time every row written in this transaction is stamped with.
    pub now: DateTime<Utc>,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await?,
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A transaction that writes one administration's records at one change position.
pub struct WriteTx {
    pub(crate) tx: Tx,
    pub administration: AdministrationId,
    pub change_seq: i64,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.tx.now
    }

    /// The plain transaction, for platform writes (audit) that belong to the same change.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

/// A database URL as it may be shown (check-config, logs, error messages): the password of the
/// `user:password@` part and the value of every query parameter that holds a secret (`password`,
/// `sslpassword`, anything named like a password, secret or token) become `***`. The one function
/// every place that shows a URL uses.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let mut shown = match (before_query.find("://"), before_query.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &before_query[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!(
                    "{}://{user}:***@{}",
                    &before_query[..scheme_end],
                    &before_query[at + 1..]
                ),
                None => before_query.to_string(),
            }
        }
        _ => before_query.to_string(),
    };
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if is_secret_parameter(name) => format!("{name}=***"),
                _ => parameter.to_string(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

/// Whether a URL query parameter carries a secret: `password`, `sslpassword`, `pass`, `secret`,
/// `token`, in any case.
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|marker| name.contains(marker))
}

/// Host and port of a database URL for messages (`127.0.0.1:5432`), without credentials.
pub fn database_address(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return redact_url(url);
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match host_port {
        "" => "localhost:5432".to_string(),
        host if host.contains(':') && !host.ends_with(']') => host.to_string(),
        host => format!("{host}:5432"),
    }
}

/// Maps a unique violation to a conflict that names the field, and passes other errors through.
pub fn map_unique(error: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(db_error) if db_error.is_unique_violation() => {
            StoreError::conflict("already_exists", message())
        }
        sqlx::Error::Database(db_error) if db_error.is_foreign_key_violation() => {
            StoreError::conflict("still_referenced", "the record is still referenced by other records")
        }
        _ => StoreError::Database(error),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://koppel:geheim@db:5432/k"),
            "postgres://koppel:***@db:5432/k"
        );
        assert_eq!(super::redact_url("sqlite://data/koppel.db"), "sqlite://data/koppel.db");
    }
}
