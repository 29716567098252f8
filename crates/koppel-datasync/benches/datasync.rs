//! Data Sync figures on `demo --scale N` (KOPPEL_BENCH_SCALE, default 1,000,000), SQLite and, when
//! KOPPEL_BENCH_DATABASE_URL (or KOPPEL_TEST_DATABASE_URL) is set, PostgreSQL:
//!
//! - full sync throughput (rows/s over all entity sets), and beside it the design's physical limit on
//!   this machine: the same rows copied by one plain `INSERT … SELECT` per table into empty tables with
//!   the reporting tables' keys and indexes (the same two tables at a time on PostgreSQL), printed as a
//!   ratio `limit time / Koppel's time` (1.0: Koppel costs nothing beyond the copy itself),
//! - an incremental sync after 10,000 changed rows (8,000 updates, 1,000 deletes, 1,000 inserts),
//! - a full resync while another writer updates a record every 20 ms, with that writer's waits.
//!
//! `cargo bench -p koppel-datasync --bench datasync`. Figures are printed, never asserted. The feed's
//! throughput is measured over HTTP by `cargo xtask bench feed`.

#![allow(clippy::unwrap_used)] // a benchmark stops at the first thing it cannot set up

use koppel_datasync::engine::DataSyncRequest;
use koppel_domain::record::{Value, parse_create};
use koppel_domain::resources::{RELATIONS, WORK_ORDER_MATERIALS, WORK_ORDERS};
use koppel_store::records::ListQuery;
use koppel_store::{ConnectOptions, Store, SystemClock};
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> BenchResult<()> {
    let scale: u64 = match std::env::var("KOPPEL_BENCH_SCALE") {
        Ok(text) => text.replace(['_', ','], "").parse()?,
        Err(_) => 1_000_000,
    };
    let unique = format!(
        "{}_{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let directory = std::env::temp_dir().join(format!("koppel-datasync-bench-{unique}"));
    std::fs::create_dir_all(&directory)?;
    let sqlite = measure(
        "sqlite",
        &format!("sqlite://{}", directory.join("bench.db").display()),
        scale,
    )
    .await;
    std::fs::remove_dir_all(&directory)?;
    sqlite?;
    let postgres_url = std::env::var("KOPPEL_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("KOPPEL_TEST_DATABASE_URL"))
        .ok();
    match postgres_url {
        Some(admin_url) => {
            let database = format!("koppel_datasync_bench_{unique}");
            let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
                .execute(&mut admin)
                .await?;
            let (base, _) = admin_url.rsplit_once('/').ok_or("a database URL ends in /database")?;
            let result = measure("postgres", &format!("{base}/{database}"), scale).await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
            result?;
        }
        None => println!("postgres: SKIPPED (set KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL)"),
    }
    Ok(())
}

async fn measure(backend: &str, url: &str, scale: u64) -> BenchResult<()> {
    let store = Store::connect(
        &ConnectOptions {
            url: url.to_string(),
            max_connections: 4,
        },
        Arc::new(SystemClock),
    )
    .await?;
    store.migrate().await?;
    println!("{backend}: seeding {scale} work orders");
    let summary = koppel_demo::seed(&store, &koppel_demo::DemoOptions::scaled(scale)).await?;
    let administration = summary.administrations[0].id;

    let started = Instant::now();
    let full = koppel_datasync::engine::run(&store, administration, &DataSyncRequest::full()).await?;
    let elapsed = started.elapsed();
    let rows = full.inserted() + full.updated();
    println!(
        "{backend}: full sync of {rows} rows in {:.2} s: {:.0} rows/s",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );
    let (limit_rows, limit) = plain_copy(&store, administration).await?;
    println!(
        "{backend}: plain INSERT … SELECT of the same tables ({limit_rows} rows) in {:.2} s: {:.0} rows/s; \
         Koppel / limit ratio {:.2} (limit time / Koppel's time)",
        limit.as_secs_f64(),
        limit_rows as f64 / limit.as_secs_f64(),
        limit.as_secs_f64() / elapsed.as_secs_f64()
    );

    // 10,000 changes: 8,000 work orders updated, 1,000 material lines deleted, 1,000 relations added.
    let list = |limit| ListQuery {
        limit,
        ..ListQuery::default()
    };
    let work_orders = store.list_records(administration, &WORK_ORDERS, &list(8_000)).await?;
    let lines = store
        .list_records(administration, &WORK_ORDER_MATERIALS, &list(1_000))
        .await?;
    let mut tx = store.write(administration).await?;
    for record in &work_orders.records {
        let mut patch = vec![None; WORK_ORDERS.fields.len()];
        patch[WORK_ORDERS.field_index("description")] = Some(Value::Text("Bijgewerkt voor de benchmark".into()));
        tx.update(&WORK_ORDERS, record.id, patch).await?;
    }
    for record in &lines.records {
        tx.delete(&WORK_ORDER_MATERIALS, record.id).await?;
    }
    for n in 0..1_000 {
        let values = parse_create(
            &RELATIONS,
            &serde_json::json!({"code": format!("BENCH-{n}"), "name": "Benchmark", "kind": "company"}),
        )
        .map_err(|errors| format!("{errors:?}"))?;
        tx.insert(&RELATIONS, values).await?;
    }
    tx.commit().await?;
    let started = Instant::now();
    let incremental = koppel_datasync::engine::run(&store, administration, &DataSyncRequest::default()).await?;
    let elapsed = started.elapsed();
    println!(
        "{backend}: incremental sync after {} changes ({} inserted, {} updated, {} deleted) in {:.3} s",
        work_orders.records.len() + lines.records.len() + 1_000,
        incremental.inserted(),
        incremental.updated(),
        incremental.deleted(),
        elapsed.as_secs_f64()
    );
    let started = Instant::now();
    koppel_datasync::engine::run(&store, administration, &DataSyncRequest::default()).await?;
    println!(
        "{backend}: incremental sync with nothing changed in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    full_resync_with_a_writer(backend, &store, administration).await?;
    store.close().await;
    Ok(())
}

/// The physical limit of a full sync: every reported table copied by one plain `INSERT … SELECT` into an
/// empty table with the reporting table's columns, primary key and indexes, two tables at a time on
/// PostgreSQL (as the sync does) and one at a time on SQLite (one writer). The tables are dropped after.
async fn plain_copy(
    store: &Store,
    administration: koppel_domain::AdministrationId,
) -> BenchResult<(u64, std::time::Duration)> {
    use koppel_datasync::dataset::{OPEN, REPORTED, copied_columns};
    use koppel_store::sql::{AssertSqlSafe, on_pool};
    let limit_table = |table: &str| format!("bench_limit_{table}");
    for reported in REPORTED {
        let table = reported.table();
        let statements: Vec<String> = match store.backend() {
            koppel_store::Backend::Postgres => vec![format!(
                "CREATE TABLE {} (LIKE {table} INCLUDING ALL)",
                limit_table(&table)
            )],
            koppel_store::Backend::Sqlite => {
                let pool = match store.pool() {
                    koppel_store::sql::Pool::Sqlite(pool) => pool,
                    koppel_store::sql::Pool::Postgres(_) => unreachable!("the backend is SQLite"),
                };
                let ddl: Vec<String> =
                    sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE tbl_name = $1 AND sql IS NOT NULL")
                        .bind(&table)
                        .fetch_all(pool)
                        .await?;
                ddl.iter()
                    .map(|sql| sql.replace(&table, &limit_table(&table)))
                    .collect()
            }
        };
        for statement in statements {
            on_pool!(store.pool(), pool => sqlx::query(AssertSqlSafe(statement)).execute(pool).await.map(|_| ()))?;
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let lane = || async {
        let mut rows = 0_u64;
        while let Some(reported) = REPORTED.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) {
            let columns = copied_columns(reported);
            let insert = format!(
                "INSERT INTO {} (administration_id, valid_from, valid_to, {columns}) \
                 SELECT administration_id, 1, $2, {columns} FROM {} WHERE administration_id = $1",
                limit_table(&reported.table()),
                reported.spec.table
            );
            rows += on_pool!(store.pool(), pool => sqlx::query(AssertSqlSafe(insert))
                .bind(administration.0)
                .bind(OPEN)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
        }
        Ok::<u64, sqlx::Error>(rows)
    };
    let started = Instant::now();
    let rows = match store.backend() {
        koppel_store::Backend::Postgres => {
            let (a, b) = futures_util::future::try_join(lane(), lane()).await?;
            a + b
        }
        koppel_store::Backend::Sqlite => lane().await?,
    };
    let elapsed = started.elapsed();
    for reported in REPORTED {
        let statement = format!("DROP TABLE {}", limit_table(&reported.table()));
        on_pool!(store.pool(), pool => sqlx::query(AssertSqlSafe(statement)).execute(pool).await.map(|_| ()))?;
    }
    Ok((rows, elapsed))
}

/// A full resync (every version replaced) while another writer updates a relation every 20 ms: how
/// long the writer waits at most. The sync writes in chunks, so the wait stays short on SQLite too.
async fn full_resync_with_a_writer(
    backend: &str,
    store: &Store,
    administration: koppel_domain::AdministrationId,
) -> BenchResult<()> {
    let relation = store
        .list_records(
            administration,
            &RELATIONS,
            &ListQuery {
                limit: 1,
                ..ListQuery::default()
            },
        )
        .await?
        .records
        .first()
        .ok_or("the benchmark administration has no relations")?
        .id;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let (mut waits, mut failures) = (Vec::new(), 0_u64);
            let mut n = 0_u64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let mut patch = vec![None; RELATIONS.fields.len()];
                patch[RELATIONS.field_index("name")] = Some(Value::Text(format!("Schrijver {n}")));
                let started = Instant::now();
                match store.update_record(administration, &RELATIONS, relation, patch).await {
                    Ok(_) => waits.push(started.elapsed()),
                    Err(_) => failures += 1,
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            (waits, failures)
        })
    };
    let started = Instant::now();
    let full = koppel_datasync::engine::run(store, administration, &DataSyncRequest::full()).await;
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut waits, failures) = writer.await?;
    let full = full?;
    waits.sort();
    let percentile = |fraction: f64| {
        waits
            .get(((waits.len() as f64 * fraction).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |wait| wait.as_secs_f64() * 1000.0)
    };
    let rows = full.inserted() + full.updated();
    println!(
        "{backend}: full resync of {rows} rows in {:.2} s ({:.0} rows/s) with a writer alongside: {} writes, \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {failures} failed",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        waits.len(),
        percentile(0.5),
        percentile(0.99),
        percentile(1.0),
    );
    Ok(())
}
