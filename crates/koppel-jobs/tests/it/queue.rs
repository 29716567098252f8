//! The queue's contract as the store keeps it: transactional enqueue, unique keys, due order,
//! fenced leases, and giving up on jobs whose worker died.

use crate::{probe, start_time};
use koppel_domain::record;
use koppel_domain::resources::RELATIONS;
use koppel_jobs::runs::{RunFilter, RunStatus, Trigger};
use koppel_jobs::storage::jobs::{ClaimRequest, Enqueued, Finish, Heartbeat, JobStatus, Lease, NewJob};
use koppel_store::StoreError;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

fn claim<'a>(worker: &'a str, kinds: &'a [&'a str]) -> ClaimRequest<'a> {
    ClaimRequest {
        worker,
        kinds,
        limit: 10,
        lease: chrono::Duration::seconds(30),
        reclaim: koppel_jobs::storage::jobs::Reclaim::DeadWorkersFirst,
    }
}

const PROBE: &[&str] = &["probe"];

fn relation(code: &str) -> Vec<koppel_domain::record::Value> {
    record::parse_create(
        &RELATIONS,
        &json!({"code": code, "name": format!("Klant {code}"), "kind": "company"}),
    )
    .unwrap()
}

#[tokio::test]
async fn a_job_exists_only_when_the_change_that_caused_it_commits() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let backend = db.backend().name();

        let mut tx = store.write(fixture.sub1).await.unwrap();
        tx.insert(&RELATIONS, relation("K1")).await.unwrap();
        let rolled_back = koppel_jobs::enqueue(&mut tx, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert!(
            matches!(
                koppel_jobs::storage::jobs::job(store, rolled_back.job()).await,
                Err(StoreError::NotFound)
            ),
            "{backend}"
        );
        assert!(
            matches!(
                koppel_jobs::runs::run(store, fixture.sub1, rolled_back.run()).await,
                Err(StoreError::NotFound)
            ),
            "{backend}"
        );
        assert!(
            koppel_jobs::storage::jobs::job_counts(store).await.unwrap().is_empty(),
            "{backend}: a rolled-back job left a trace"
        );

        let mut tx = store.write(fixture.sub1).await.unwrap();
        tx.insert(&RELATIONS, relation("K2")).await.unwrap();
        let committed = koppel_jobs::enqueue(&mut tx, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(committed.is_new());
        let job = koppel_jobs::storage::jobs::job(store, committed.job()).await.unwrap();
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.run_id, committed.run());
        assert_eq!(job.administration, Some(fixture.sub1));
        let run = koppel_jobs::runs::run(store, fixture.sub1, committed.run())
            .await
            .unwrap();
        assert_eq!(
            (run.status, run.trigger, run.kind.as_str()),
            (RunStatus::Queued, Trigger::Automatic, "probe")
        );
        assert_eq!(run.queued_at, start_time());
        assert_eq!((run.started_at, run.finished_at), (None, None));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_second_job_with_the_same_key_joins_the_queued_or_running_one() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let sync = || {
            probe(json!({}))
                .administration(fixture.sub1)
                .unique_key(format!("sync:{}", fixture.sub1))
        };

        let first = koppel_jobs::enqueue_committed(store, &sync()).await.unwrap();
        let Enqueued::Created { job, run } = first else {
            panic!("expected a new job, got {first:?}")
        };
        let manual = koppel_jobs::enqueue_committed(store, &sync().manual(fixture.admin.id))
            .await
            .unwrap();
        assert_eq!(
            manual,
            Enqueued::Joined {
                job,
                run,
                status: JobStatus::Queued
            }
        );

        let claimed = koppel_jobs::testing::claim(store, &claim("w1", PROBE))
            .await
            .unwrap()
            .jobs;
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            koppel_jobs::enqueue_committed(store, &sync()).await.unwrap(),
            Enqueued::Joined {
                job,
                run,
                status: JobStatus::Running
            }
        );
        // Only one run exists for all three requests.
        let runs = koppel_jobs::runs::list(
            store,
            fixture.sub1,
            &RunFilter {
                limit: 10,
                ..RunFilter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(runs.runs.len(), 1);

        let lease = claimed[0].lease().unwrap();
        let done = Finish::Succeeded {
            partial: false,
            message: None,
            counts: None,
        };
        assert!(koppel_jobs::testing::finish(store, &lease, &done).await.unwrap());
        // Finished: the key is free again, and a key of another administration never collided.
        let next = koppel_jobs::enqueue_committed(store, &sync()).await.unwrap();
        assert!(next.is_new() && next.job() != job);
        let other = probe(json!({}))
            .administration(fixture.sub2)
            .unique_key(format!("sync:{}", fixture.sub2));
        assert!(koppel_jobs::enqueue_committed(store, &other).await.unwrap().is_new());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn due_jobs_are_claimed_by_priority_and_future_jobs_wait() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let low = koppel_jobs::enqueue_committed(store, &probe(json!({})))
            .await
            .unwrap()
            .job();
        let high = koppel_jobs::enqueue_committed(store, &probe(json!({})).priority(10))
            .await
            .unwrap()
            .job();
        let later = koppel_jobs::enqueue_committed(
            store,
            &probe(json!({})).run_at(start_time() + chrono::Duration::hours(1)),
        )
        .await
        .unwrap();
        let other_kind = koppel_jobs::enqueue_committed(store, &NewJob::new("unknown_kind", json!({})))
            .await
            .unwrap()
            .job();

        let claimed = koppel_jobs::testing::claim(store, &claim("w1", PROBE))
            .await
            .unwrap()
            .jobs;
        assert_eq!(
            claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![high, low],
            "{}",
            db.backend().name()
        );
        assert!(
            koppel_jobs::testing::claim(store, &claim("w1", PROBE))
                .await
                .unwrap()
                .jobs
                .is_empty()
        );
        let done = Finish::Succeeded {
            partial: false,
            message: None,
            counts: None,
        };
        for job in &claimed {
            assert!(
                koppel_jobs::testing::finish(store, &job.lease().unwrap(), &done)
                    .await
                    .unwrap()
            );
        }

        db.fixed_clock().advance(chrono::Duration::hours(1));
        let claimed = koppel_jobs::testing::claim(store, &claim("w1", PROBE))
            .await
            .unwrap()
            .jobs;
        assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.job()]);
        // A kind this worker does not run waits for one that does.
        assert_eq!(
            koppel_jobs::storage::jobs::job(store, other_kind).await.unwrap().status,
            JobStatus::Queued
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn only_the_current_lease_holder_can_extend_or_finish_a_job() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let enqueued = koppel_jobs::enqueue_committed(store, &probe(json!({}))).await.unwrap();
        let first = koppel_jobs::testing::claim(store, &claim("worker-a", PROBE))
            .await
            .unwrap()
            .jobs
            .remove(0);
        let lease_a = first.lease().unwrap();
        assert_eq!(
            (first.attempts, first.lease_until),
            (1, Some(start_time() + chrono::Duration::seconds(30)))
        );
        assert_eq!(
            koppel_jobs::testing::heartbeat(store, &lease_a, chrono::Duration::seconds(30))
                .await
                .unwrap(),
            Heartbeat::Held {
                cancel_requested: false
            }
        );
        // While the lease holds, nobody else gets the job.
        assert!(
            koppel_jobs::testing::claim(store, &claim("worker-b", PROBE))
                .await
                .unwrap()
                .jobs
                .is_empty()
        );

        // Worker A goes quiet past its lease; B takes the job over.
        db.fixed_clock().advance(chrono::Duration::seconds(31));
        let without_reclaim = ClaimRequest {
            reclaim: koppel_jobs::storage::jobs::Reclaim::DueOnly,
            ..claim("worker-b", PROBE)
        };
        assert!(
            koppel_jobs::testing::claim(store, &without_reclaim)
                .await
                .unwrap()
                .jobs
                .is_empty(),
            "taken over only when asked"
        );
        let second = koppel_jobs::testing::claim(store, &claim("worker-b", PROBE))
            .await
            .unwrap()
            .jobs
            .remove(0);
        assert_eq!((second.id, second.attempts), (enqueued.job(), 2));
        let lease_b = second.lease().unwrap();

        // A wakes up: its heartbeat and its outcome are refused, even with the same worker id.
        assert_eq!(
            koppel_jobs::testing::heartbeat(store, &lease_a, chrono::Duration::seconds(30))
                .await
                .unwrap(),
            Heartbeat::Lost
        );
        let done = Finish::Succeeded {
            partial: false,
            message: None,
            counts: None,
        };
        assert!(!koppel_jobs::testing::finish(store, &lease_a, &done).await.unwrap());
        let stale_same_id = Lease {
            worker: "worker-b".into(),
            ..lease_a.clone()
        };
        assert!(
            !koppel_jobs::testing::finish(store, &stale_same_id, &done)
                .await
                .unwrap()
        );
        assert_eq!(
            koppel_jobs::storage::jobs::job(store, enqueued.job())
                .await
                .unwrap()
                .status,
            JobStatus::Running
        );

        assert!(koppel_jobs::testing::finish(store, &lease_b, &done).await.unwrap());
        let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
        assert_eq!((run.status, run.attempts), (RunStatus::Succeeded, 2));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_on_its_last_attempt_fails_with_a_message_that_says_so() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let last_try = koppel_jobs::enqueue_committed(store, &probe(json!({})).max_attempts(1))
            .await
            .unwrap();
        let with_attempts_left = koppel_jobs::enqueue_committed(store, &probe(json!({})).max_attempts(5))
            .await
            .unwrap();
        assert_eq!(
            koppel_jobs::testing::claim(store, &claim("dead-worker", PROBE))
                .await
                .unwrap()
                .jobs
                .len(),
            2
        );

        db.fixed_clock().advance(chrono::Duration::seconds(31));
        let claim_after = koppel_jobs::testing::claim(store, &claim("survivor", PROBE))
            .await
            .unwrap();
        // The one with attempts left is reclaimed; the one without is given up on.
        assert_eq!(
            claim_after.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![with_attempts_left.job()]
        );
        assert_eq!(claim_after.given_up.len(), 1);
        assert_eq!(claim_after.given_up[0].id, last_try.job());
        assert_eq!(claim_after.given_up[0].run_id, last_try.run());
        assert_eq!(claim_after.given_up[0].status, JobStatus::Failed);

        let run = koppel_jobs::runs::any_run(store, last_try.run()).await.unwrap();
        assert_eq!(
            run.status,
            RunStatus::Failed,
            "a dead worker's run does not stay running"
        );
        let message = run.message.expect("a message for users");
        assert!(
            message.nl.contains("gestopt") && message.en.contains("stopped"),
            "{message:?}"
        );
        assert!(run.detail.unwrap().contains("lease expired"));
        assert_eq!(run.finished_at, Some(start_time() + chrono::Duration::seconds(31)));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_running_job_whose_cancellation_was_requested_is_cancelled_when_its_worker_dies() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let enqueued = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        koppel_jobs::testing::claim(store, &claim("dead-worker", PROBE))
            .await
            .unwrap();
        let outcome = koppel_jobs::runs::cancel(
            store,
            fixture.sub1,
            enqueued.run(),
            koppel_store::platform::Actor(Some(fixture.admin.id)),
        )
        .await
        .unwrap();
        assert_eq!(outcome, koppel_jobs::runs::CancelOutcome::Requested);
        db.fixed_clock().advance(chrono::Duration::seconds(31));
        let claimed = koppel_jobs::testing::claim(store, &claim("survivor", PROBE))
            .await
            .unwrap();
        assert!(claimed.jobs.is_empty(), "a job the user cancelled is not run again");
        assert_eq!(claimed.given_up[0].status, JobStatus::Cancelled);
        let run = koppel_jobs::runs::run(store, fixture.sub1, enqueued.run())
            .await
            .unwrap();
        assert_eq!(
            (run.status, run.cancelled_by),
            (RunStatus::Cancelled, Some(fixture.admin.id))
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_sub_removes_its_jobs_runs_items_and_schedules() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let doomed = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub2))
            .await
            .unwrap();
        let kept = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        let item = koppel_jobs::runs::NewRunItem {
            key: "relations/1",
            status: koppel_jobs::runs::ItemStatus::Succeeded,
            message: None,
            detail: None,
        };
        koppel_jobs::runs::record_item(store, doomed.run(), &item)
            .await
            .unwrap();
        // Every administration gets its schedule from the scheduler.
        let every_administration = vec![koppel_jobs::Periodic {
            kind: "probe",
            scope: koppel_jobs::Scope::EveryAdministration,
            interval: std::time::Duration::from_secs(3600),
        }];
        koppel_jobs::Scheduler::new(
            &crate::queue(store),
            &crate::registry(),
            every_administration,
            koppel_jobs::SchedulerConfig::default(),
        )
        .unwrap()
        .tick()
        .await
        .unwrap();
        assert_eq!(
            koppel_jobs::storage::schedules::schedules(store, "probe")
                .await
                .unwrap()
                .len(),
            3
        );

        store
            .delete_administration(fixture.sub2, koppel_store::platform::Actor::SYSTEM)
            .await
            .unwrap();
        assert!(matches!(
            koppel_jobs::storage::jobs::job(store, doomed.job()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            koppel_jobs::runs::any_run(store, doomed.run()).await,
            Err(StoreError::NotFound)
        ));
        let schedules = koppel_jobs::storage::schedules::schedules(store, "probe")
            .await
            .unwrap();
        assert_eq!(schedules.len(), 2);
        assert!(schedules.iter().all(|s| s.administration != Some(fixture.sub2)));
        assert_eq!(
            koppel_jobs::storage::jobs::job(store, kept.job()).await.unwrap().status,
            JobStatus::Queued
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn invalid_jobs_are_refused() {
    let db = TestDatabase::sqlite().await;
    let store = db.store();
    for (job, field) in [
        (NewJob::new("", json!({})), "kind"),
        (probe(json!({})).max_attempts(0), "max_attempts"),
        (probe(json!({})).unique_key(""), "unique_key"),
    ] {
        match koppel_jobs::enqueue_committed(store, &job).await {
            Err(StoreError::Invalid(errors)) => assert_eq!(errors[0].field, field),
            other => panic!("expected {field} to be refused, got {other:?}"),
        }
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_running_job_whose_worker_stopped_shows_as_being_recovered() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        koppel_jobs::enqueue_committed(store, &probe(json!({}))).await.unwrap();
        let claimed = koppel_jobs::testing::claim(store, &claim("worker-a", PROBE))
            .await
            .unwrap()
            .jobs
            .remove(0);
        let run = koppel_jobs::runs::any_run(store, claimed.run_id).await.unwrap();
        assert_eq!(
            (run.status, run.recovering),
            (RunStatus::Running, false),
            "the lease holds"
        );
        // Worker A is killed: no more heartbeats. Past its lease the run says it is being recovered
        // instead of plainly running.
        db.fixed_clock().advance(chrono::Duration::seconds(31));
        let run = koppel_jobs::runs::any_run(store, claimed.run_id).await.unwrap();
        assert_eq!((run.status, run.recovering), (RunStatus::Running, true));
        // Worker B takes it over: running under a live lease again.
        let taken = koppel_jobs::testing::claim(store, &claim("worker-b", PROBE))
            .await
            .unwrap()
            .jobs;
        assert_eq!(taken.len(), 1);
        let run = koppel_jobs::runs::any_run(store, claimed.run_id).await.unwrap();
        assert_eq!((run.status, run.recovering), (RunStatus::Running, false));
        db.cleanup().await;
    }
}
