//! The background-work suite: the queue, the worker, the scheduler and the run history, through
//! their public surface, on SQLite always and on PostgreSQL whenever `KOPPEL_TEST_DATABASE_URL` is
//! set. Time that matters comes from a fixed clock; waiting for a worker is done on its events.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod history;
mod metrics;
mod nodes;
mod queue;
mod scheduler;
mod worker;

use chrono::{DateTime, TimeZone, Utc};
use koppel_jobs::kinds::{self, BuiltinConfig};
use koppel_jobs::storage::jobs::NewJob;
use koppel_jobs::{
    Ended, Job, JobContext, JobFuture, JobId, JobType, Queue, Registry, RetryPolicy, Worker, WorkerConfig, WorkerEvent,
};
use koppel_store::{ConnectOptions, Store};
use koppel_test_support::TestDatabase;
use std::time::Duration;
use tokio::sync::broadcast;

/// The moment fixed-clock tests start at.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// A worker configuration for tests: quick heartbeats so cancellation is seen soon, a lease that
/// only expires when a test moves the fixed clock, and a short grace period.
pub fn worker_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        heartbeat_interval: Duration::from_millis(50),
        grace_period: Duration::from_millis(300),
        retry: RetryPolicy {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        },
    }
}

/// A test-only kind: its body panics. Registering it also shows that a new kind is one type.
pub struct Panics;

impl JobType for Panics {
    const KIND: &'static str = "panics";
    const DEDUPLICATED: bool = false;
}

impl Job for Panics {
    fn run<'a>(&'a self, _context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async { panic!("a bug in a job body") })
    }
}

/// A test-only kind: its body ignores cancellation and would run for ten minutes.
pub struct Stubborn;

impl JobType for Stubborn {
    const KIND: &'static str = "stubborn";
    const DEDUPLICATED: bool = false;
}

impl Job for Stubborn {
    fn run<'a>(&'a self, _context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok(koppel_jobs::Outcome::done())
        })
    }
}

/// A test-only kind that succeeds at once; only the metrics test uses it, so its figures are exact
/// even though every test of this binary records into one process-wide recorder.
pub struct Metered;

impl JobType for Metered {
    const KIND: &'static str = "metered";
    const DEDUPLICATED: bool = false;
}

impl Job for Metered {
    fn run<'a>(&'a self, _context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async { Ok(koppel_jobs::Outcome::done()) })
    }
}

/// The built-in kinds (history kept 30 days) plus the test-only ones.
pub fn registry() -> Registry {
    let mut registry = kinds::builtin(&BuiltinConfig {
        history_retention: chrono::Duration::days(30),
    });
    registry.register(Panics).register(Stubborn).register(Metered);
    registry
}

pub fn queue(store: &Store) -> Queue {
    Queue::new(store.clone(), 3)
}

pub fn worker(queue: &Queue, id: &str) -> Worker {
    koppel_jobs::testing::worker(queue, registry())
        .config(worker_config())
        .id(id)
        .build()
}

/// A second, independent connection pool to the same database: another "node" in-process.
pub async fn second_store(db: &TestDatabase) -> Store {
    let options = ConnectOptions {
        url: db.url().to_string(),
        max_connections: 5,
    };
    Store::connect(&options, db.store().clock().clone())
        .await
        .expect("second store")
}

/// Waits for the worker event that `matches`, bounded so a broken worker fails the test instead of
/// hanging it.
pub async fn wait_for(
    events: &mut broadcast::Receiver<WorkerEvent>,
    matches: impl Fn(&WorkerEvent) -> bool,
) -> WorkerEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the expected worker event did not come within 30 s")
            .expect("the worker's event channel closed");
        if matches(&event) {
            return event;
        }
    }
}

/// Waits until `job` started (its body is running).
pub async fn started(events: &mut broadcast::Receiver<WorkerEvent>, job: JobId) {
    wait_for(
        events,
        |event| matches!(event, WorkerEvent::Started { job: j, .. } if *j == job),
    )
    .await;
}

/// Waits until `job`'s attempt ended, and returns how.
pub async fn finished(events: &mut broadcast::Receiver<WorkerEvent>, job: JobId) -> Ended {
    match wait_for(
        events,
        |event| matches!(event, WorkerEvent::Finished { job: j, .. } if *j == job),
    )
    .await
    {
        WorkerEvent::Finished { ended, .. } => ended,
        _ => unreachable!(),
    }
}

/// A probe job with this payload.
pub fn probe(payload: serde_json::Value) -> NewJob {
    NewJob::new(koppel_jobs::testing::probe::KIND, payload).max_attempts(3)
}
