//! Jobs across nodes at once, on PostgreSQL only (SQLite is one process, woken in-process): two
//! workers with connection pools of their own, as two `koppel` processes have, polling only every
//! 30 s, so nothing but the notification of a committed enqueue explains a quick start on the
//! other node. Each job's executions are counted, not just its final state.

use crate::{queue, registry, second_store, worker_config};
use koppel_jobs::storage::jobs::JobStatus;
use koppel_jobs::testing::ProbePayload;
use koppel_jobs::{JobId, WorkerConfig};
use koppel_store::Store;
use koppel_test_support::TestDatabase;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Far longer than any wait below: a job that starts within it was not found by a poll.
const POLL_INTERVAL: Duration = Duration::from_secs(30);

fn slow_polling() -> WorkerConfig {
    WorkerConfig {
        poll_interval: POLL_INTERVAL,
        ..worker_config()
    }
}

async fn postgres_or_skip() -> Option<TestDatabase> {
    let db = TestDatabase::postgres().await;
    if db.is_none() {
        eprintln!("skipped: LISTEN/NOTIFY between nodes is PostgreSQL-only, and KOPPEL_TEST_DATABASE_URL is unset");
    }
    db
}

/// Waits, bounded well below the poll interval, until every job in `jobs` has succeeded.
async fn all_succeed(store: &Store, jobs: &[JobId], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut waiting = 0;
        for job in jobs {
            if koppel_jobs::storage::jobs::job(store, *job).await.unwrap().status != JobStatus::Succeeded {
                waiting += 1;
            }
        }
        if waiting == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} of {} jobs had not succeeded within {within:?}; the workers poll only every {POLL_INTERVAL:?}",
            jobs.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The backends of this database that listen for new jobs.
async fn listeners(store: &Store) -> Vec<i32> {
    let koppel_store::sql::Pool::Postgres(pool) = store.pool() else {
        panic!("PostgreSQL only")
    };
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' \
         AND pid <> pg_backend_pid() ORDER BY pid",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn wait_for_listeners(store: &Store, count: usize, excluding: &[i32]) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<i32> = listeners(store)
            .await
            .into_iter()
            .filter(|pid| !excluding.contains(pid))
            .collect();
        if pids.len() >= count {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "{count} new listening connection(s) expected within 10 s, found {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn jobs_enqueued_on_one_node_start_at_once_on_the_other_and_each_runs_once() {
    const JOBS: usize = 400;
    let Some(db) = postgres_or_skip().await else {
        return;
    };
    let node_a = db.store().clone();
    let node_b = second_store(&db).await;
    let worker_a = koppel_jobs::testing::worker(&queue(&node_a), registry())
        .config(slow_polling())
        .id("node-a")
        .spawn();
    let worker_b = koppel_jobs::testing::worker(&queue(&node_b), registry())
        .config(slow_polling())
        .id("node-b")
        .spawn();
    // Both listen before anything is enqueued, so neither start below is a start-up claim.
    wait_for_listeners(&node_a, 2, &[]).await;

    // Enqueued on node A, each job in a transaction of its own and without waking node A's worker
    // in-process: every worker learns of every job only from PostgreSQL's notification.
    let mut jobs = Vec::with_capacity(JOBS);
    for index in 0..JOBS {
        let enqueued = koppel_jobs::enqueue_committed(&node_a, &ProbePayload::default().job())
            .await
            .unwrap();
        jobs.push(enqueued.job());
        if index % 50 == 49 {
            // Let the workers go idle now and then, so every batch is a fresh wake-up.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    all_succeed(&node_a, &jobs, Duration::from_secs(20)).await;

    let executions = koppel_jobs::testing::probe::executions(&node_a).await.unwrap();
    assert_eq!(executions.len(), JOBS);
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for execution in &executions {
        assert_eq!(
            execution.executions, 1,
            "job {} ran {} times",
            execution.job_id, execution.executions
        );
        assert_eq!(
            execution.effect_worker.as_deref(),
            Some(execution.first_worker.as_str())
        );
        *by_node.entry(execution.first_worker.clone()).or_default() += 1;
    }
    assert!(
        by_node.get("node-b").copied().unwrap_or(0) > 0,
        "node B, which enqueued nothing, started none of the jobs: {by_node:?}"
    );
    worker_a.stop().await;
    worker_b.stop().await;
    node_b.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_worker_whose_listening_connection_drops_listens_again_and_still_starts_jobs_at_once() {
    let Some(db) = postgres_or_skip().await else {
        return;
    };
    let node_a = db.store().clone();
    let node_b = second_store(&db).await;
    let worker_b = koppel_jobs::testing::worker(&queue(&node_b), registry())
        .config(slow_polling())
        .id("node-b")
        .spawn();
    let first = wait_for_listeners(&node_a, 1, &[]).await;

    // The database ends the listening connection, as a restart or a network failure would.
    let koppel_store::sql::Pool::Postgres(pool) = node_a.pool() else {
        unreachable!()
    };
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first[0])
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(terminated);
    wait_for_listeners(&node_a, 1, &first).await;

    let enqueued = koppel_jobs::enqueue_committed(&node_a, &ProbePayload::default().job())
        .await
        .unwrap();
    all_succeed(&node_a, &[enqueued.job()], Duration::from_secs(10)).await;
    let executions = koppel_jobs::testing::probe::executions(&node_a).await.unwrap();
    assert_eq!(
        (
            executions.len(),
            executions[0].executions,
            executions[0].first_worker.as_str()
        ),
        (1, 1, "node-b")
    );
    worker_b.stop().await;
    node_b.close().await;
    db.cleanup().await;
}
