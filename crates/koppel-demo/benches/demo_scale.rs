//! Measures `demo --scale N` and prints work orders per second: always on a fresh SQLite file, and on a
//! fresh throw-away PostgreSQL database when `KOPPEL_BENCH_DATABASE_URL` (or `KOPPEL_TEST_DATABASE_URL`)
//! is set. N is 1,000,000 unless `KOPPEL_BENCH_SCALE` says otherwise; `KOPPEL_BENCH_BATCH` sets the
//! work orders per transaction (default: the demo's own).
//!
//! Run in release: `cargo bench -p koppel-demo --bench demo_scale`.

#![allow(clippy::unwrap_used)] // a benchmark stops at the first thing it cannot set up

use koppel_demo::{DemoOptions, DemoSummary};
use koppel_store::{ConnectOptions, Store, SystemClock};
use sqlx::Connection;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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

    let directory = std::env::temp_dir().join(format!("koppel-bench-{unique}"));
    std::fs::create_dir_all(&directory)?;
    let path = directory.join("bench.db");
    let sqlite = measure("sqlite", &format!("sqlite://{}", path.display()), scale).await;
    let size_bytes: u64 = std::fs::read_dir(&directory)?
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .map(|metadata| metadata.len())
        .sum();
    std::fs::remove_dir_all(&directory)?;
    let sqlite = sqlite?;
    println!("sqlite: database files {:.0} MB", size_bytes as f64 / 1e6);

    let postgres_url = std::env::var("KOPPEL_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("KOPPEL_TEST_DATABASE_URL"))
        .ok();
    let postgres = match postgres_url {
        Some(admin_url) => {
            let database = format!("koppel_bench_{unique}");
            let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
                .execute(&mut admin)
                .await?;
            let result = measure("postgres", &with_database(&admin_url, &database), scale).await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
            Some(result?)
        }
        None => {
            println!("postgres: SKIPPED (set KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL to measure it)");
            None
        }
    };

    println!();
    println!("demo --scale {scale}");
    for (backend, summary) in [("sqlite", Some(&sqlite)), ("postgres", postgres.as_ref())] {
        if let Some(summary) = summary {
            println!(
                "  {backend:<8} {:>8.0} work orders/s  ({} work orders, {} records in {:.1} s; \
                 {:.0} work orders/s in the work-order phase alone)",
                summary.work_orders_per_second(),
                summary.work_orders,
                summary.total_records(),
                summary.elapsed.as_secs_f64(),
                summary.work_order_phase_per_second()
            );
        }
    }
    Ok(())
}

async fn measure(backend: &str, url: &str, scale: u64) -> BenchResult<DemoSummary> {
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
    let mut options = DemoOptions::scaled(scale).with_printed_progress();
    if let Ok(batch) = std::env::var("KOPPEL_BENCH_BATCH") {
        options.batch_size = batch.replace(['_', ','], "").parse()?;
    }
    let cpu_before = process_cpu_seconds();
    let summary = koppel_demo::seed(&store, &options).await?;
    let cpu_seconds = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    store.close().await;
    println!(
        "{backend}: {:.0} work orders/s, {} records in {:.1} s",
        summary.work_orders_per_second(),
        summary.total_records(),
        summary.elapsed.as_secs_f64()
    );
    // Wall-clock rates suffer when other work shares the machine; the CPU this process used does not.
    // On SQLite that is all of the database's work; on PostgreSQL the server's share is not in it.
    if let Some(cpu_seconds) = cpu_seconds {
        println!(
            "{backend}: this process used {cpu_seconds:.1} CPU s ({:.0} work orders per CPU second)",
            summary.work_orders as f64 / cpu_seconds.max(0.001)
        );
    }
    for (resource, count) in &summary.counts {
        println!("{backend}:   {resource:<24} {count:>10}");
    }
    Ok(summary)
}

/// User plus system CPU time of this process so far, from `/proc/self/stat` (Linux only).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel reports in clock ticks, which are 1/100 s on every Linux this runs on.
    Some(ticks / 100.0)
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
