//! The job queue's own cost, with `noop` jobs: throughput (jobs per second when a backlog is
//! drained) and enqueue-to-start latency (p50/p99/max at a steady rate well below capacity).
//!
//! Throughput: on a fresh SQLite database with one worker and, when `KOPPEL_BENCH_DATABASE_URL` (or
//! `KOPPEL_TEST_DATABASE_URL`) names a PostgreSQL server, on fresh PostgreSQL databases with one and
//! with two workers. Each worker has its own connection pool, as separate nodes would.
//!
//! Latency: on SQLite, enqueued through the worker's own queue (one process, woken in-process). On
//! PostgreSQL across nodes: each job is enqueued on node A, which runs no worker, and started by the
//! worker of node B, which has a connection pool of its own and learns of the job only from
//! PostgreSQL's notification (LISTEN/NOTIFY) or, failing that, its poll every second.
//!
//! Settings: `KOPPEL_BENCH_JOBS` (backlog size, default 5,000), `KOPPEL_BENCH_PACED` (jobs in the
//! latency phase, default 1,000), `KOPPEL_BENCH_RATE` (jobs per second in that phase, default 200),
//! `KOPPEL_BENCH_CONCURRENCY` (jobs per worker at once, default 8).
//!
//! Run in release: `cargo bench -p koppel-jobs --bench jobs`. The figures are printed, never asserted.

#![allow(clippy::unwrap_used, unsafe_code)] // a benchmark stops at the first thing it cannot set up; it sets its
// database URL in the environment before any thread starts

use anyhow::Context;
use koppel_jobs::kinds::{self, BuiltinConfig};
use koppel_jobs::storage::jobs::{JobStatus, NewJob};
use koppel_jobs::{Queue, Registry, RetryPolicy, Worker, WorkerConfig};
use koppel_store::{Backend, ConnectOptions, Store, SystemClock};
use koppel_test_support::{DATABASE_URL_VARIABLE, TestDatabase};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Settings {
    backlog: usize,
    paced: usize,
    rate: u32,
    concurrency: usize,
}

struct Throughput {
    backend: &'static str,
    workers: usize,
    jobs_per_second: f64,
}

struct Latency {
    backend: &'static str,
    path: &'static str,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn setting(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(text) => text
            .replace(['_', ','], "")
            .parse()
            .with_context(|| format!("{name}={text} is not a number")),
        Err(_) => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let settings = Settings {
        backlog: setting("KOPPEL_BENCH_JOBS", 5_000)? as usize,
        paced: setting("KOPPEL_BENCH_PACED", 1_000)? as usize,
        rate: setting("KOPPEL_BENCH_RATE", 200)? as u32,
        concurrency: setting("KOPPEL_BENCH_CONCURRENCY", 8)? as usize,
    };
    // TestDatabase reads the test variable; a bench-specific one takes precedence.
    if let Ok(url) = std::env::var("KOPPEL_BENCH_DATABASE_URL") {
        // SAFETY: set before the runtime and any other thread start.
        unsafe { std::env::set_var(DATABASE_URL_VARIABLE, url) };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(settings))
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    println!(
        "jobs benchmark: noop jobs; backlog {} jobs; latency at {} jobs/s over {} jobs; {} jobs at once per worker",
        settings.backlog, settings.rate, settings.paced, settings.concurrency
    );
    let mut throughputs = Vec::new();
    let mut latencies = Vec::new();
    let sqlite = TestDatabase::sqlite().await;
    throughputs.push(throughput(&sqlite, 1, &settings).await?);
    latencies.push(latency(&sqlite, &settings).await?);
    sqlite.cleanup().await;
    for workers in [1, 2] {
        match TestDatabase::postgres().await {
            Some(database) => {
                throughputs.push(throughput(&database, workers, &settings).await?);
                database.cleanup().await;
            }
            None => break,
        }
    }
    if let Some(database) = TestDatabase::postgres().await {
        latencies.push(latency(&database, &settings).await?);
        database.cleanup().await;
    }
    println!();
    println!("{:<9} {:>7} {:>10}", "backend", "workers", "jobs/s");
    for figures in &throughputs {
        println!(
            "{:<9} {:>7} {:>10.0}",
            figures.backend, figures.workers, figures.jobs_per_second
        );
    }
    println!();
    println!(
        "{:<9} {:<28} {:>12} {:>12} {:>12}",
        "backend", "enqueue → start", "latency p50", "latency p99", "latency max"
    );
    for figures in &latencies {
        println!(
            "{:<9} {:<28} {:>9.1} ms {:>9.1} ms {:>9.1} ms",
            figures.backend,
            figures.path,
            millis(figures.p50),
            millis(figures.p99),
            millis(figures.max)
        );
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn registry() -> Registry {
    kinds::builtin(&BuiltinConfig {
        history_retention: chrono::Duration::days(90),
    })
}

fn config(settings: &Settings) -> WorkerConfig {
    WorkerConfig {
        concurrency: settings.concurrency,
        poll_interval: Duration::from_secs(1),
        lease: Duration::from_secs(60),
        heartbeat_interval: Duration::from_secs(10),
        grace_period: Duration::from_secs(10),
        retry: RetryPolicy::default(),
    }
}

/// Another node: a connection pool of its own to the same database.
async fn node(database: &TestDatabase) -> anyhow::Result<Store> {
    let options = ConnectOptions {
        url: database.url().to_string(),
        max_connections: 10,
    };
    Ok(Store::connect(&options, Arc::new(SystemClock)).await?)
}

/// Workers running in the background until `stop` is sent.
struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn start(queues: &[Queue], settings: &Settings) -> Running {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for (index, queue) in queues.iter().enumerate() {
            let worker = Worker::with_id(queue, registry(), config(settings), format!("bench-{index}"));
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                worker
                    .run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            }));
        }
        Running { stop, tasks }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await?;
        }
        Ok(())
    }
}

/// A backlog, enqueued before the workers start, drained as fast as they can.
async fn throughput(database: &TestDatabase, workers: usize, settings: &Settings) -> anyhow::Result<Throughput> {
    let backend = database.backend().name();
    let mut stores = vec![database.store().clone()];
    for _ in 1..workers {
        stores.push(node(database).await?);
    }
    let queues: Vec<Queue> = stores.iter().map(|store| Queue::new(store.clone(), 5)).collect();
    let store = &stores[0];
    let mut backlog = Vec::with_capacity(settings.backlog);
    for chunk in 0..settings.backlog.div_ceil(1000) {
        let mut tx = store.begin().await?;
        for _ in 0..(settings.backlog - chunk * 1000).min(1000) {
            backlog.push(
                koppel_jobs::enqueue(&mut tx, &NewJob::new(kinds::noop::KIND, serde_json::json!({})))
                    .await?
                    .job(),
            );
        }
        tx.commit().await?;
    }
    let running = Running::start(&queues, settings);
    wait_until_done(store, settings.backlog as i64).await?;
    running.stop().await?;
    // From the first start to the last finish, as the database recorded them.
    let mut first_start = None;
    let mut last_finish = None;
    for id in &backlog {
        let job = koppel_jobs::storage::jobs::job(store, *id).await?;
        first_start = first_start.min(job.started_at).or(job.started_at);
        last_finish = last_finish.max(job.finished_at);
    }
    let elapsed = (last_finish.context("no finish")? - first_start.context("no start")?).to_std()?;
    println!(
        "{backend}, {workers} worker(s): drained {} jobs in {:.2} s",
        settings.backlog,
        elapsed.as_secs_f64()
    );
    for extra in &stores[1..] {
        extra.close().await;
    }
    Ok(Throughput {
        backend,
        workers,
        jobs_per_second: settings.backlog as f64 / elapsed.as_secs_f64(),
    })
}

/// One job at a time at a steady rate, each enqueued in its own transaction: on SQLite through the
/// worker's own queue, on PostgreSQL on node A for the worker of node B.
async fn latency(database: &TestDatabase, settings: &Settings) -> anyhow::Result<Latency> {
    let backend = database.backend().name();
    let node_a = database.store().clone();
    let (node_b, path) = match database.backend() {
        Backend::Sqlite => (node_a.clone(), "in-process"),
        Backend::Postgres => (node(database).await?, "node A → worker on node B"),
    };
    let queue_a = Queue::new(node_a.clone(), 5);
    // On SQLite the worker is woken by the queue jobs are enqueued through; on PostgreSQL node B's
    // queue wakes nobody on node A.
    let queue_b = match database.backend() {
        Backend::Sqlite => queue_a.clone(),
        Backend::Postgres => Queue::new(node_b.clone(), 5),
    };
    let running = Running::start(std::slice::from_ref(&queue_b), settings);
    let before = succeeded(&node_a).await?;
    let mut paced = Vec::with_capacity(settings.paced);
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / settings.rate.max(1));
    for _ in 0..settings.paced {
        ticks.tick().await;
        let job = NewJob::new(kinds::noop::KIND, serde_json::json!({}));
        let enqueued = match database.backend() {
            Backend::Sqlite => queue_a.enqueue(&job).await?,
            // Node A wakes nobody in-process; node B hears of it from PostgreSQL.
            Backend::Postgres => koppel_jobs::enqueue_committed(&node_a, &job).await?,
        };
        paced.push(enqueued.run());
    }
    wait_until_done(&node_a, before + settings.paced as i64).await?;
    running.stop().await?;
    let mut latencies = Vec::with_capacity(paced.len());
    for run in paced {
        let run = koppel_jobs::runs::any_run(&node_a, run).await?;
        latencies.push((run.started_at.context("not started")? - run.queued_at).to_std()?);
    }
    if database.backend() == Backend::Postgres {
        node_b.close().await;
    }
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    Ok(Latency {
        backend,
        path,
        p50: percentile(0.50),
        p99: percentile(0.99),
        max: *latencies.last().context("no latencies")?,
    })
}

async fn succeeded(store: &Store) -> anyhow::Result<i64> {
    let counts = koppel_jobs::storage::jobs::job_counts(store).await?;
    Ok(counts
        .get(&(kinds::noop::KIND.to_string(), JobStatus::Succeeded))
        .copied()
        .unwrap_or(0))
}

/// Waits until `total` noop jobs have succeeded, looking ten times a second.
async fn wait_until_done(store: &Store, total: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if succeeded(store).await? >= total {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the jobs did not finish in 10 minutes: {:?}",
            koppel_jobs::storage::jobs::job_counts(store).await?
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
