//! Fresh databases for one test: a temporary SQLite file, or a throw-away PostgreSQL database created
//! on the server `KOPPEL_TEST_DATABASE_URL` points at and dropped afterwards.

use chrono::{TimeZone, Utc};
use koppel_store::{ConnectOptions, FixedClock, Store};
use sqlx::Connection;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The store clock every test runs at, so generated dates are the same on every run.
pub fn test_clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0)
            .single()
            .expect("a valid time"),
    ))
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect(url: &str) -> Store {
    let store = Store::connect(
        &ConnectOptions {
            url: url.to_string(),
            max_connections: 4,
        },
        test_clock(),
    )
    .await
    .expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    store
}

/// Runs `check` against a fresh SQLite database and removes it afterwards, also when `check` fails.
pub async fn on_sqlite<F, Fut>(check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let directory: PathBuf = std::env::temp_dir().join(unique_name("koppel_demo_it"));
    std::fs::create_dir_all(&directory).expect("create a temporary directory");
    let store = connect(&format!("sqlite://{}", directory.join("demo.db").display())).await;
    let outcome = tokio::spawn(check(store.clone())).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&directory);
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Runs `check` against a throw-away PostgreSQL database, or says loudly that it did not.
pub async fn on_postgres<F, Fut>(test: &str, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var("KOPPEL_TEST_DATABASE_URL") else {
        // Straight to the terminal: the test harness would swallow `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED {test} on PostgreSQL: KOPPEL_TEST_DATABASE_URL is not set"
        );
        return;
    };
    let name = unique_name("koppel_demo_it");
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to KOPPEL_TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a throw-away database");
    let store = connect(&with_database(&admin_url, &name)).await;
    let outcome = tokio::spawn(check(store.clone())).await;
    store.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop the throw-away database");
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}
