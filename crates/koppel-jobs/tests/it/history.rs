//! The run history: listing with filters and pages, items and progress, retries by users, and
//! pruning after the retention period by the periodic `prune_history` job.

use crate::{probe, queue, registry, start_time, worker};
use koppel_jobs::Scope;
use koppel_jobs::runs::{ItemStatus, RunFilter, RunStatus, Trigger};
use koppel_jobs::scheduler::{Periodic, Scheduler, SchedulerConfig};
use koppel_jobs::storage::jobs::JobStatus;
use koppel_store::StoreError;
use koppel_store::platform::Actor;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

#[tokio::test]
async fn runs_are_listed_newest_first_filtered_and_paged_per_administration() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let mut ours = Vec::new();
        for index in 0..5 {
            let mut job = probe(json!({})).administration(fixture.sub1);
            if index % 2 == 0 {
                job = job.manual(fixture.admin.id);
            }
            if index == 3 {
                job = probe(json!({"fail": "permanent"})).administration(fixture.sub1);
            }
            ours.push(koppel_jobs::enqueue_committed(store, &job).await.unwrap().run());
        }
        let theirs = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub2))
            .await
            .unwrap()
            .run();
        worker(&queue, "w1").run_until_idle().await.unwrap();

        let all =
            |filter: RunFilter| async move { koppel_jobs::runs::list(store, fixture.sub1, &filter).await.unwrap() };
        let page = all(RunFilter {
            limit: 50,
            ..RunFilter::default()
        })
        .await;
        let ids: Vec<koppel_jobs::RunId> = page.runs.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            ours.iter().rev().copied().collect::<Vec<_>>(),
            "newest first, only this administration's"
        );
        assert_eq!(page.next_before, None);

        let failed = all(RunFilter {
            status: Some(RunStatus::Failed),
            limit: 50,
            ..RunFilter::default()
        })
        .await;
        assert_eq!(failed.runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ours[3]]);
        let manual = all(RunFilter {
            trigger: Some(Trigger::Manual),
            limit: 50,
            ..RunFilter::default()
        })
        .await;
        assert_eq!(manual.runs.len(), 3);
        assert!(manual.runs.iter().all(|r| r.started_by == Some(fixture.admin.id)));
        let other_kind = all(RunFilter {
            kind: Some("data_sync".into()),
            limit: 50,
            ..RunFilter::default()
        })
        .await;
        assert!(other_kind.runs.is_empty());

        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = all(RunFilter {
                before,
                limit: 2,
                ..RunFilter::default()
            })
            .await;
            assert!(page.runs.len() <= 2);
            seen.extend(page.runs.iter().map(|r| r.id));
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ids, "paging sees every run once");
        assert!(matches!(
            koppel_jobs::runs::run(store, fixture.sub1, theirs).await,
            Err(StoreError::NotFound)
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_run_records_its_progress_and_its_items() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let run = koppel_jobs::enqueue_committed(
            store,
            &probe(json!({"steps": 4, "items": 5})).administration(fixture.sub1),
        )
        .await
        .unwrap()
        .run();
        worker(&queue, "w1").run_until_idle().await.unwrap();
        let finished = koppel_jobs::runs::run(store, fixture.sub1, run).await.unwrap();
        assert_eq!((finished.progress_done, finished.progress_total), (4, Some(4)));
        assert_eq!(finished.started_at, Some(start_time()));
        assert_eq!(finished.finished_at, Some(start_time()));

        let first = koppel_jobs::runs::items(store, fixture.sub1, run, None, 2)
            .await
            .unwrap();
        assert_eq!(
            first.items.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
            vec!["probe-item-0", "probe-item-1"]
        );
        let rest = koppel_jobs::runs::items(store, fixture.sub1, run, first.next_after, 10)
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 3);
        assert_eq!(rest.next_after, None);
        assert_eq!(rest.items[0].status, ItemStatus::Skipped);
        assert!(
            koppel_jobs::runs::items(store, fixture.sub2, run, None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_user_retries_a_failed_run_as_a_new_run() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let payload = json!({"fail": "permanent"});
        let failed = koppel_jobs::enqueue_committed(store, &probe(payload.clone()).administration(fixture.sub1))
            .await
            .unwrap()
            .run();
        let succeeded = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap()
            .run();
        worker.run_until_idle().await.unwrap();

        let actor = Actor(Some(fixture.admin.id));
        let retry = koppel_jobs::runs::retry(store, fixture.sub1, failed, actor)
            .await
            .unwrap();
        assert!(retry.is_new());
        let run = koppel_jobs::runs::run(store, fixture.sub1, retry.run()).await.unwrap();
        assert_eq!(
            (run.trigger, run.retry_of, run.started_by),
            (Trigger::Retry, Some(failed), Some(fixture.admin.id))
        );
        assert_eq!(
            koppel_jobs::storage::jobs::job(store, retry.job())
                .await
                .unwrap()
                .payload,
            payload
        );
        match koppel_jobs::runs::retry(store, fixture.sub1, succeeded, actor).await {
            Err(StoreError::Conflict {
                code: "run_not_retryable",
                ..
            }) => {}
            other => panic!("a successful run is not retried, got {other:?}"),
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_periodic_prune_removes_finished_history_older_than_the_retention() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let worker = worker(&queue, "w1");
        let old = koppel_jobs::enqueue_committed(store, &probe(json!({"items": 3})).administration(fixture.sub1))
            .await
            .unwrap();
        worker.run_until_idle().await.unwrap();
        // Work that has not finished is never pruned, however old.
        let far = start_time() + chrono::Duration::days(365);
        let waiting = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub1).run_at(far))
            .await
            .unwrap();

        db.fixed_clock().advance(chrono::Duration::days(31));
        let recent = koppel_jobs::enqueue_committed(store, &probe(json!({})).administration(fixture.sub1))
            .await
            .unwrap();
        worker.run_until_idle().await.unwrap();

        let hourly = vec![Periodic {
            kind: "prune_history",
            scope: Scope::System,
            interval: std::time::Duration::from_secs(3600),
        }];
        let scheduler = Scheduler::new(&queue, &registry(), hourly, SchedulerConfig::default()).unwrap();
        assert_eq!(scheduler.tick().await.unwrap().fired, 1);
        assert_eq!(worker.run_until_idle().await.unwrap(), 1);

        assert!(matches!(
            koppel_jobs::runs::run(store, fixture.sub1, old.run()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            koppel_jobs::storage::jobs::job(store, old.job()).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            koppel_jobs::runs::items(store, fixture.sub1, old.run(), None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            koppel_jobs::testing::probe::executions(store)
                .await
                .unwrap()
                .iter()
                .all(|p| p.job_id != old.job())
        );
        assert_eq!(
            koppel_jobs::runs::run(store, fixture.sub1, waiting.run())
                .await
                .unwrap()
                .status,
            RunStatus::Queued
        );
        assert_eq!(
            koppel_jobs::runs::run(store, fixture.sub1, recent.run())
                .await
                .unwrap()
                .status,
            RunStatus::Succeeded
        );

        let counts = koppel_jobs::storage::jobs::job_counts(store).await.unwrap();
        assert_eq!(
            counts.get(&("prune_history".to_string(), JobStatus::Succeeded)),
            Some(&1)
        );
        let prune_job = koppel_jobs::storage::schedules::schedules(store, "prune_history")
            .await
            .unwrap()[0]
            .last_run_id
            .unwrap();
        let prune_run = koppel_jobs::runs::any_run(store, prune_job).await.unwrap();
        assert_eq!(prune_run.counts, json!({"runs": 1, "run_items": 3, "jobs": 1}));
        assert!(prune_run.message.unwrap().nl.contains("1 afgeronde runs"));
        db.cleanup().await;
    }
}

/// Issue 18: a run whose job ended without an error but none of whose items succeeded has failed;
/// one with some successes is partially succeeded.
#[tokio::test]
async fn a_run_with_no_succeeded_item_has_failed_not_partially_succeeded() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let claim = koppel_jobs::storage::jobs::ClaimRequest {
            worker: "w1",
            kinds: &["probe"],
            limit: 10,
            lease: chrono::Duration::seconds(30),
            reclaim: koppel_jobs::storage::jobs::Reclaim::DeadWorkersFirst,
        };
        let mut statuses = Vec::new();
        for (succeeded, failed) in [(0, 1), (1, 1), (0, 0)] {
            let enqueued = koppel_jobs::enqueue_committed(store, &probe(json!({}))).await.unwrap();
            let job = koppel_jobs::testing::claim(store, &claim).await.unwrap().jobs.remove(0);
            let items = (0..succeeded)
                .map(|i| (format!("ok-{i}"), ItemStatus::Succeeded))
                .chain((0..failed).map(|i| (format!("bad-{i}"), ItemStatus::Failed)));
            for (key, status) in items {
                let item = koppel_jobs::runs::NewRunItem {
                    key: &key,
                    status,
                    message: None,
                    detail: None,
                };
                koppel_jobs::runs::record_item(store, job.run_id, &item).await.unwrap();
            }
            let done = koppel_jobs::storage::jobs::Finish::Succeeded {
                partial: failed > 0,
                message: None,
                counts: None,
            };
            assert!(
                koppel_jobs::testing::finish(store, &job.lease().unwrap(), &done)
                    .await
                    .unwrap()
            );
            let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
            statuses.push((run.status, run.message.unwrap().en));
        }
        assert_eq!(
            statuses,
            vec![
                (
                    RunStatus::Failed,
                    "Failed: none of the items succeeded; see the items.".to_string()
                ),
                (
                    RunStatus::PartiallySucceeded,
                    "Partially completed; see the items.".to_string()
                ),
                (RunStatus::Succeeded, "Completed.".to_string()),
            ]
        );
        db.cleanup().await;
    }
}
