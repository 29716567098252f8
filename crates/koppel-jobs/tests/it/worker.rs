//! The worker: retries and giving up, permanent failures, cancellation, graceful shutdown, taking
//! over a dead worker's job, panics, and every job running exactly once with concurrent workers.

use crate::{finished, probe, queue, second_store, start_time, started, worker, worker_config};
use koppel_jobs::Ended;
use koppel_jobs::runs::{CancelOutcome, RunStatus};
use koppel_jobs::storage::jobs::{ClaimRequest, Heartbeat, JobStatus, NewJob};
use koppel_jobs::testing::ProbePayload;
use koppel_store::platform::Actor;
use koppel_store::{Backend, StoreError};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn transient_failures_are_retried_with_growing_backoff_then_given_up_with_the_reason() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let clock = db.fixed_clock();
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let enqueued = koppel_jobs::enqueue_committed(store, &probe(json!({"fail": "transient"})).max_attempts(3))
            .await
            .unwrap();

        // Attempt 1 fails; the retry waits 5–10 s (half the 10 s ceiling plus jitter).
        assert_eq!(worker.run_until_idle().await.unwrap(), 1);
        let job = koppel_jobs::storage::jobs::job(store, enqueued.job()).await.unwrap();
        assert_eq!(
            (job.status, job.attempts, job.locked_by.as_deref()),
            (JobStatus::Queued, 1, None)
        );
        let wait = job.run_at - clock_now(&db);
        assert!(
            wait >= chrono::Duration::seconds(5) && wait <= chrono::Duration::seconds(10),
            "{wait}"
        );
        assert!(job.last_error.unwrap().contains("transient failure on attempt 1"));
        let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Queued, 1));
        // Not due yet: nothing runs.
        assert_eq!(worker.run_until_idle().await.unwrap(), 0);

        // Attempt 2 fails; the retry waits 10–20 s.
        clock.advance(chrono::Duration::seconds(10));
        assert_eq!(worker.run_until_idle().await.unwrap(), 1);
        let job = koppel_jobs::storage::jobs::job(store, enqueued.job()).await.unwrap();
        let wait = job.run_at - clock_now(&db);
        assert!(
            wait >= chrono::Duration::seconds(10) && wait <= chrono::Duration::seconds(20),
            "{wait}"
        );

        // Attempt 3 is the last: the job fails for good, with the reason kept for operators and a
        // plain message for users.
        clock.advance(chrono::Duration::seconds(20));
        assert_eq!(worker.run_until_idle().await.unwrap(), 1);
        let job = koppel_jobs::storage::jobs::job(store, enqueued.job()).await.unwrap();
        assert_eq!((job.status, job.attempts), (JobStatus::Failed, 3));
        let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        let message = run.message.unwrap();
        assert!(
            message.nl.contains("na 3 pogingen") && message.en.contains("after 3 attempts"),
            "{message:?}"
        );
        assert!(
            !message.en.contains("transient failure"),
            "internal detail leaked into the user message"
        );
        let detail = run.detail.unwrap();
        assert!(
            detail.contains("gave up after 3 attempts") && detail.contains("attempt 3"),
            "{detail}"
        );
        assert_eq!(
            koppel_jobs::testing::probe::executions(store).await.unwrap()[0].executions,
            3
        );
        db.cleanup().await;
    }
}

fn clock_now(db: &TestDatabase) -> chrono::DateTime<chrono::Utc> {
    db.store().now()
}

#[tokio::test]
async fn a_failure_that_passes_on_the_next_attempt_ends_in_success() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let payload = ProbePayload {
            fail: Some(koppel_jobs::testing::probe::ProbeFailure::Transient),
            fail_until_attempt: Some(1),
            ..ProbePayload::default()
        };
        let enqueued = koppel_jobs::enqueue_committed(store, &payload.job()).await.unwrap();
        worker.run_until_idle().await.unwrap();
        db.fixed_clock().advance(chrono::Duration::seconds(10));
        worker.run_until_idle().await.unwrap();
        let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Succeeded, 2));
        assert_eq!(run.counts, json!({"executions": 2, "effect_applied": true}));
        assert_eq!(run.message.unwrap().en, "Completed.");
        assert_eq!(run.detail, None, "a success clears the last attempt's error");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_failure_that_will_never_pass_fails_at_once() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let permanent = koppel_jobs::enqueue_committed(store, &probe(json!({"fail": "permanent"})).max_attempts(5))
            .await
            .unwrap();
        let bad_payload = koppel_jobs::enqueue_committed(store, &probe(json!({"sleep": "long"})).max_attempts(5))
            .await
            .unwrap();
        assert_eq!(worker.run_until_idle().await.unwrap(), 2);

        let job = koppel_jobs::storage::jobs::job(store, permanent.job()).await.unwrap();
        assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
        let run = koppel_jobs::runs::any_run(store, permanent.run()).await.unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.message.unwrap().nl, "De testtaak is opzettelijk mislukt.");
        assert!(run.detail.unwrap().contains("permanent failure"));

        let run = koppel_jobs::runs::any_run(store, bad_payload.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Failed, 1));
        assert!(run.message.unwrap().en.contains("input it cannot use"));
        assert!(run.detail.unwrap().contains("unknown field"));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_panicking_job_fails_its_run_and_the_worker_carries_on() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let panics = koppel_jobs::enqueue_committed(store, &NewJob::new("panics", json!({})))
            .await
            .unwrap();
        let fine = koppel_jobs::enqueue_committed(store, &probe(json!({}))).await.unwrap();
        assert_eq!(worker.run_until_idle().await.unwrap(), 2);
        let run = koppel_jobs::runs::any_run(store, panics.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Failed, 1));
        assert!(run.detail.unwrap().contains("a bug in a job body"));
        assert_eq!(
            koppel_jobs::runs::any_run(store, fine.run()).await.unwrap().status,
            RunStatus::Succeeded
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn cancelling_a_queued_run_stops_it_before_it_starts() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let enqueued = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        let actor = Actor(Some(fixture.admin.id));
        assert_eq!(
            koppel_jobs::runs::cancel(store, fixture.sub1, enqueued.run(), actor)
                .await
                .unwrap(),
            CancelOutcome::Cancelled
        );
        assert_eq!(worker.run_until_idle().await.unwrap(), 0);
        assert!(
            koppel_jobs::testing::probe::executions(store).await.unwrap().is_empty(),
            "the body never ran"
        );
        let run = koppel_jobs::runs::run(store, fixture.sub1, enqueued.run())
            .await
            .unwrap();
        assert_eq!(
            (run.status, run.cancelled_by),
            (RunStatus::Cancelled, Some(fixture.admin.id))
        );
        assert_eq!(run.message.unwrap().en, "Cancelled at a user's request.");
        assert_eq!(
            koppel_jobs::storage::jobs::job(store, enqueued.job())
                .await
                .unwrap()
                .status,
            JobStatus::Cancelled
        );
        // Finished runs cannot be cancelled again, and other administrations' runs are not found.
        match koppel_jobs::runs::cancel(store, fixture.sub1, enqueued.run(), actor).await {
            Err(StoreError::Conflict {
                code: "run_finished", ..
            }) => {}
            other => panic!("expected run_finished, got {other:?}"),
        }
        assert!(matches!(
            koppel_jobs::runs::cancel(store, fixture.sub2, enqueued.run(), actor).await,
            Err(StoreError::NotFound)
        ));
        db.cleanup().await;
    }
}

/// Starts `worker.run` in the background; send on the returned channel to stop it.
fn spawn_worker(worker: &koppel_jobs::Worker) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = worker.clone();
    let handle = tokio::spawn(async move {
        running
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    (stop, handle)
}

#[tokio::test]
async fn cancelling_a_running_run_signals_its_body_which_stops() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let mut events = worker.subscribe();
        let (stop, handle) = spawn_worker(&worker);
        let long = probe(json!({"sleep_ms": 600_000, "steps": 600})).administration(fixture.sub1);
        let enqueued = queue.enqueue(&long).await.unwrap();
        started(&mut events, enqueued.job()).await;

        let outcome = koppel_jobs::runs::cancel(store, fixture.sub1, enqueued.run(), Actor(Some(fixture.user.id)))
            .await
            .unwrap();
        assert_eq!(outcome, CancelOutcome::Requested);
        let run = koppel_jobs::runs::run(store, fixture.sub1, enqueued.run())
            .await
            .unwrap();
        assert!(run.cancel_requested);
        assert_eq!(finished(&mut events, enqueued.job()).await, Ended::Cancelled);

        let run = koppel_jobs::runs::run(store, fixture.sub1, enqueued.run())
            .await
            .unwrap();
        assert_eq!(
            (run.status, run.cancelled_by),
            (RunStatus::Cancelled, Some(fixture.user.id))
        );
        assert!(run.finished_at.is_some());
        let probe = &koppel_jobs::testing::probe::executions(store).await.unwrap()[0];
        assert_eq!(
            (probe.executions, probe.effect_worker.as_deref()),
            (1, None),
            "stopped before its effect"
        );
        stop.send(()).unwrap();
        handle.await.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stopping_worker_hands_back_the_job_it_cannot_finish_within_the_grace_period() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let mut events = worker.subscribe();
        let (stop, handle) = spawn_worker(&worker);
        let enqueued = queue
            .enqueue(&probe(json!({"sleep_ms": 600_000, "steps": 10})))
            .await
            .unwrap();
        started(&mut events, enqueued.job()).await;

        stop.send(()).unwrap();
        assert_eq!(finished(&mut events, enqueued.job()).await, Ended::HandedBack);
        handle.await.unwrap();
        let job = koppel_jobs::storage::jobs::job(store, enqueued.job()).await.unwrap();
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Queued, 0),
            "the attempt does not count"
        );
        assert_eq!((job.locked_by, job.lease_until), (None, None));
        let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Queued, 0));
        // The next worker can take it at once.
        let claimed = koppel_jobs::testing::claim(
            store,
            &ClaimRequest {
                worker: "w2",
                kinds: &["probe"],
                limit: 1,
                lease: chrono::Duration::seconds(30),
                reclaim: koppel_jobs::storage::jobs::Reclaim::DeadWorkersFirst,
            },
        )
        .await
        .unwrap();
        assert_eq!(claimed.jobs[0].attempts, 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stopping_worker_lets_a_job_finish_within_the_grace_period() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let mut config = worker_config();
        config.grace_period = Duration::from_secs(30);
        let worker = koppel_jobs::testing::worker(&queue, crate::registry())
            .config(config)
            .id("w1")
            .build();
        let mut events = worker.subscribe();
        let (stop, handle) = spawn_worker(&worker);
        let enqueued = queue
            .enqueue(&probe(json!({"sleep_ms": 300, "steps": 3})))
            .await
            .unwrap();
        started(&mut events, enqueued.job()).await;
        stop.send(()).unwrap();
        assert_eq!(finished(&mut events, enqueued.job()).await, Ended::Succeeded);
        handle.await.unwrap();
        assert_eq!(
            koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap().status,
            RunStatus::Succeeded
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_body_that_ignores_cancellation_is_stopped_after_the_grace_period() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let mut events = worker.subscribe();
        let (stop, handle) = spawn_worker(&worker);
        let enqueued = queue
            .enqueue(&NewJob::new("stubborn", json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        started(&mut events, enqueued.job()).await;
        koppel_jobs::runs::cancel(store, fixture.sub1, enqueued.run(), Actor(Some(fixture.admin.id)))
            .await
            .unwrap();
        assert_eq!(finished(&mut events, enqueued.job()).await, Ended::Cancelled);
        assert_eq!(
            koppel_jobs::runs::run(store, fixture.sub1, enqueued.run())
                .await
                .unwrap()
                .status,
            RunStatus::Cancelled
        );
        stop.send(()).unwrap();
        handle.await.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_over_after_its_lease_and_completes_once() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let worker = worker(&queue, "survivor");
        let enqueued = koppel_jobs::enqueue_committed(store, &probe(json!({}))).await.unwrap();
        // A worker claims the job and dies before running it (or in the middle: nothing it did counts).
        let request = ClaimRequest {
            worker: "dead",
            kinds: &["probe"],
            limit: 1,
            lease: chrono::Duration::seconds(30),
            reclaim: koppel_jobs::storage::jobs::Reclaim::DeadWorkersFirst,
        };
        let dead = koppel_jobs::testing::claim(store, &request)
            .await
            .unwrap()
            .jobs
            .remove(0)
            .lease()
            .unwrap();
        assert_eq!(
            koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap().status,
            RunStatus::Running
        );

        assert_eq!(worker.run_until_idle().await.unwrap(), 0, "the lease still holds");
        db.fixed_clock().advance(chrono::Duration::seconds(31));
        assert_eq!(worker.run_until_idle().await.unwrap(), 1);

        let job = koppel_jobs::storage::jobs::job(store, enqueued.job()).await.unwrap();
        assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
        let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Succeeded, 2));
        let probe = &koppel_jobs::testing::probe::executions(store).await.unwrap()[0];
        assert_eq!(
            (probe.executions, probe.effect_worker.as_deref()),
            (1, Some("survivor"))
        );
        assert_eq!(
            koppel_jobs::testing::heartbeat(store, &dead, chrono::Duration::seconds(30))
                .await
                .unwrap(),
            Heartbeat::Lost
        );
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_runs_exactly_once_with_concurrent_workers() {
    const JOBS: usize = 300;
    for db in TestDatabase::all().await {
        let store = db.store();
        let queue_a = queue(store);
        let mut jobs = Vec::with_capacity(JOBS);
        for _ in 0..JOBS {
            jobs.push(
                koppel_jobs::enqueue_committed(store, &probe(json!({})))
                    .await
                    .unwrap()
                    .job(),
            );
        }
        // One worker on SQLite (one process owns the file); two on PostgreSQL, each with its own pool,
        // as two nodes would be.
        let (ran_a, ran_b) = if db.backend() == Backend::Postgres {
            let store_b = second_store(&db).await;
            let queue_b = queue(&store_b);
            let (a, b) = (worker(&queue_a, "node-a"), worker(&queue_b, "node-b"));
            let (ran_a, ran_b) = tokio::join!(a.run_until_idle(), b.run_until_idle());
            store_b.close().await;
            (ran_a.unwrap(), ran_b.unwrap())
        } else {
            (worker(&queue_a, "node-a").run_until_idle().await.unwrap(), 0)
        };
        assert_eq!(ran_a + ran_b, JOBS, "{}: attempts run", db.backend().name());
        let executions = koppel_jobs::testing::probe::executions(store).await.unwrap();
        assert_eq!(executions.len(), JOBS);
        for execution in &executions {
            assert_eq!(
                execution.executions,
                1,
                "{}: job {} ran more than once",
                db.backend().name(),
                execution.job_id
            );
            assert_eq!(
                execution.effect_worker.as_deref(),
                Some(execution.first_worker.as_str())
            );
        }
        let counts = koppel_jobs::storage::jobs::job_counts(store).await.unwrap();
        assert_eq!(
            counts.get(&("probe".to_string(), JobStatus::Succeeded)),
            Some(&(JOBS as i64))
        );
        db.cleanup().await;
    }
}
