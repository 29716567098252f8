//! Throw-away databases: a fresh, migrated SQLite file or PostgreSQL database per test, removed again
//! afterwards.

use chrono::{DateTime, Utc};
use koppel_store::{Backend, Clock, ConnectOptions, FixedClock, Store, SystemClock};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Once};

/// The environment variable that points the suites at a PostgreSQL server. The URL names a database
/// to connect to for creating and dropping the test databases (normally `postgres`).
pub const DATABASE_URL_VARIABLE: &str = "KOPPEL_TEST_DATABASE_URL";

/// Enough connections for the concurrency tests (several writers, a reader and a consumer at once).
const MAX_CONNECTIONS: u32 = 10;

/// The moment fixed-clock tests start at (with [`TestDatabase::all_at`]): a Sunday morning in
/// November 2026, 09:00 UTC.
pub fn fixed_start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .expect("a valid time")
        .with_timezone(&Utc)
}

/// One test's own database, on either backend.
///
/// Call [`TestDatabase::cleanup`] at the end of a test. When a test fails before it gets there, `Drop`
/// still removes the database (the PostgreSQL one from a separate thread with its own runtime), so
/// failing tests do not leave databases behind.
#[derive(Debug)]
pub struct TestDatabase {
    store: Store,
    url: String,
    fixed_clock: Option<Arc<FixedClock>>,
    /// What to remove afterwards; `None` once removed.
    resources: Option<Resources>,
}

#[derive(Debug)]
enum Resources {
    SqliteDirectory(PathBuf),
    PostgresDatabase { server_url: String, name: String },
}

impl TestDatabase {
    /// A fresh SQLite database file in a fresh temporary directory, migrated, on the system clock.
    pub async fn sqlite() -> TestDatabase {
        TestDatabase::sqlite_with_clock(Arc::new(SystemClock)).await
    }

    /// A fresh SQLite database on the given clock.
    pub async fn sqlite_with_clock(clock: Arc<dyn Clock>) -> TestDatabase {
        TestDatabase::create_sqlite(clock, None).await
    }

    /// A fresh SQLite database on a [`FixedClock`] that starts at `start`; see [`TestDatabase::fixed_clock`].
    pub async fn sqlite_at(start: DateTime<Utc>) -> TestDatabase {
        let clock = Arc::new(FixedClock::new(start));
        TestDatabase::create_sqlite(clock.clone(), Some(clock)).await
    }

    /// A fresh PostgreSQL database, or `None` (with a warning) when no server is configured.
    pub async fn postgres() -> Option<TestDatabase> {
        TestDatabase::postgres_with_clock(Arc::new(SystemClock)).await
    }

    /// A fresh PostgreSQL database on the given clock, or `None` when no server is configured.
    pub async fn postgres_with_clock(clock: Arc<dyn Clock>) -> Option<TestDatabase> {
        let server_url = postgres_server_url()?;
        Some(TestDatabase::create_postgres(server_url, clock, None).await)
    }

    /// A fresh PostgreSQL database on a [`FixedClock`] that starts at `start`, or `None`.
    pub async fn postgres_at(start: DateTime<Utc>) -> Option<TestDatabase> {
        let server_url = postgres_server_url()?;
        let clock = Arc::new(FixedClock::new(start));
        Some(TestDatabase::create_postgres(server_url, clock.clone(), Some(clock)).await)
    }

    /// SQLite always, plus PostgreSQL when configured: loop over these to run a test on every backend.
    pub async fn all() -> Vec<TestDatabase> {
        let mut databases = vec![TestDatabase::sqlite().await];
        databases.extend(TestDatabase::postgres().await);
        databases
    }

    /// Like [`TestDatabase::all`], each database on its own [`FixedClock`] starting at `start`.
    pub async fn all_at(start: DateTime<Utc>) -> Vec<TestDatabase> {
        let mut databases = vec![TestDatabase::sqlite_at(start).await];
        databases.extend(TestDatabase::postgres_at(start).await);
        databases
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The database URL the store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The clock of a database made with one of the `…_at` constructors.
    ///
    /// # Panics
    /// When the database runs on another clock: that is a mistake in the test.
    pub fn fixed_clock(&self) -> &FixedClock {
        self.fixed_clock
            .as_deref()
            .expect("this test database was not created with a fixed clock; use TestDatabase::…_at")
    }

    /// Closes the store and removes the database. Every clone of the store must be done with it.
    pub async fn cleanup(mut self) {
        self.store.close().await;
        match self.resources.take() {
            Some(Resources::SqliteDirectory(directory)) => remove_directory(&directory),
            Some(Resources::PostgresDatabase { server_url, name }) => {
                if let Err(error) = drop_postgres_database(&server_url, &name).await {
                    warn(&format!("could not drop test database {name}: {error}"));
                }
            }
            None => {}
        }
    }

    async fn create_sqlite(clock: Arc<dyn Clock>, fixed_clock: Option<Arc<FixedClock>>) -> TestDatabase {
        let directory = std::env::temp_dir().join(format!("koppel-test-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&directory)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", directory.display()));
        let resources = Resources::SqliteDirectory(directory.clone());
        let url = format!("sqlite://{}", directory.join("koppel.db").display());
        TestDatabase::open(url, clock, fixed_clock, resources).await
    }

    async fn create_postgres(
        server_url: String,
        clock: Arc<dyn Clock>,
        fixed_clock: Option<Arc<FixedClock>>,
    ) -> TestDatabase {
        let name = format!("koppel_test_{:016x}", rand::random::<u64>());
        let mut server = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|error| panic!("{DATABASE_URL_VARIABLE} is set, but the server does not answer: {error}"));
        // The name is ours (a fixed prefix and hex digits), so it is safe to put into SQL text.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut server)
            .await
            .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
        // A test database need not survive a crash, so commits need not wait for the disk. Visibility and
        // locking, which the suites test, are the same either way.
        sqlx::query(AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET synchronous_commit = off"
        )))
        .execute(&mut server)
        .await
        .unwrap_or_else(|error| panic!("cannot configure test database {name}: {error}"));
        let _ = server.close().await;
        let url = with_database_name(&server_url, &name);
        let resources = Resources::PostgresDatabase { server_url, name };
        TestDatabase::open(url, clock, fixed_clock, resources).await
    }

    async fn open(
        url: String,
        clock: Arc<dyn Clock>,
        fixed_clock: Option<Arc<FixedClock>>,
        resources: Resources,
    ) -> TestDatabase {
        // Build the value first, so `Drop` removes the database if connecting or migrating fails.
        let options = ConnectOptions {
            url: url.clone(),
            max_connections: MAX_CONNECTIONS,
        };
        let store = match Store::connect(&options, clock).await {
            Ok(store) => store,
            Err(error) => {
                drop(ResourceGuard(Some(resources)));
                panic!("cannot open test database {url}: {error}");
            }
        };
        let database = TestDatabase {
            store,
            url,
            fixed_clock,
            resources: Some(resources),
        };
        database
            .store
            .migrate()
            .await
            .unwrap_or_else(|error| panic!("migrating the test database failed: {error}"));
        database
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        drop(ResourceGuard(self.resources.take()));
    }
}

/// Removes a test database's files or PostgreSQL database when dropped, synchronously.
struct ResourceGuard(Option<Resources>);

impl Drop for ResourceGuard {
    fn drop(&mut self) {
        match self.0.take() {
            Some(Resources::SqliteDirectory(directory)) => remove_directory(&directory),
            Some(Resources::PostgresDatabase { server_url, name }) => {
                // Drop cannot await, and the test's runtime may be the current-thread kind that is busy
                // running this very drop: use a thread with a runtime of its own and wait for it.
                let outcome = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|error| error.to_string())?;
                    runtime
                        .block_on(drop_postgres_database(&server_url, &name))
                        .map_err(|error| format!("could not drop test database {name}: {error}"))
                })
                .join();
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(message)) => warn(&message),
                    Err(_) => warn("the thread that drops a test database panicked"),
                }
            }
            None => {}
        }
    }
}

async fn drop_postgres_database(server_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut server = PgConnection::connect(server_url).await?;
    // FORCE ends the connections a failed test may still hold open.
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut server)
        .await?;
    server.close().await
}

fn remove_directory(directory: &std::path::Path) {
    if let Err(error) = std::fs::remove_dir_all(directory)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        warn(&format!("could not remove {}: {error}", directory.display()));
    }
}

/// The configured server URL, or `None` after warning (once per test binary) that PostgreSQL is skipped.
fn postgres_server_url() -> Option<String> {
    match std::env::var(DATABASE_URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            static WARNING: Once = Once::new();
            WARNING.call_once(|| {
                warn(&format!(
                    "\n\
                     ************************************************************************\n\
                     *  PostgreSQL tests SKIPPED: {DATABASE_URL_VARIABLE} is not set\n\
                     *  Only SQLite was tested. Set it to run the same tests on PostgreSQL, e.g.\n\
                     *  {DATABASE_URL_VARIABLE}=postgres://postgres@127.0.0.1:5432/postgres\n\
                     ************************************************************************"
                ));
            });
            None
        }
    }
}

/// Writes to the process's stderr directly: the test harness captures `eprintln!`, which would hide
/// the warning in every test that passes.
fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// The server URL with its database path replaced by `name`, keeping credentials and query options.
fn with_database_name(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| authority_start + index);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a test database's files or PostgreSQL database still exist.
    async fn exists(resources: &Resources) -> bool {
        match resources {
            Resources::SqliteDirectory(directory) => directory.exists(),
            Resources::PostgresDatabase { server_url, name } => {
                let mut server = PgConnection::connect(server_url).await.expect("connect");
                let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(name)
                    .fetch_optional(&mut server)
                    .await
                    .expect("query");
                found.is_some()
            }
        }
    }

    fn location(database: &TestDatabase) -> Resources {
        match database.resources.as_ref().expect("not cleaned up yet") {
            Resources::SqliteDirectory(directory) => Resources::SqliteDirectory(directory.clone()),
            Resources::PostgresDatabase { server_url, name } => Resources::PostgresDatabase {
                server_url: server_url.clone(),
                name: name.clone(),
            },
        }
    }

    #[tokio::test]
    async fn databases_are_removed_by_cleanup() {
        for database in TestDatabase::all().await {
            let resources = location(&database);
            database.store().ping().await.expect("usable");
            assert!(exists(&resources).await);
            database.cleanup().await;
            assert!(!exists(&resources).await, "{resources:?} is left behind");
        }
    }

    /// A failing test never reaches `cleanup`; dropping the database (as unwinding does) removes it.
    #[tokio::test]
    async fn databases_are_removed_when_dropped() {
        for database in TestDatabase::all().await {
            let resources = location(&database);
            database.store().create_environment("Weg").await.expect("usable");
            drop(database);
            assert!(!exists(&resources).await, "{resources:?} is left behind");
        }
    }

    #[tokio::test]
    async fn fixed_clock_databases_use_their_clock() {
        let start = fixed_start();
        for database in TestDatabase::all_at(start).await {
            assert_eq!(database.store().now(), start);
            database.fixed_clock().advance(chrono::Duration::hours(1));
            assert_eq!(database.store().now(), start + chrono::Duration::hours(1));
            database.cleanup().await;
        }
    }

    #[test]
    fn the_database_name_replaces_the_path_only() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "koppel_test_1"),
            "postgres://postgres@127.0.0.1:5432/koppel_test_1"
        );
        assert_eq!(
            with_database_name("postgresql://u:p@db/postgres?sslmode=disable", "k"),
            "postgresql://u:p@db/k?sslmode=disable"
        );
        assert_eq!(with_database_name("postgres://db:5432", "k"), "postgres://db:5432/k");
    }
}
