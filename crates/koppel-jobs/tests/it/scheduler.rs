//! The scheduler: each period fires exactly once even with two schedulers on one database, downtime
//! is caught up with one run, and every administration gets its own schedule.

use crate::{queue, registry, second_store, start_time, worker};
use koppel_jobs::Scope;
use koppel_jobs::runs::{RunFilter, Trigger};
use koppel_jobs::scheduler::{Periodic, ScheduleError, Scheduler, SchedulerConfig};
use koppel_jobs::storage::jobs::JobStatus;
use koppel_test_support::{Fixture, TestDatabase};
use std::time::Duration;

const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);

fn probe_every(interval: Duration, scope: Scope) -> Vec<Periodic> {
    vec![Periodic {
        kind: "probe",
        scope,
        interval,
    }]
}

fn probe_jobs(counts: &koppel_jobs::storage::jobs::JobCounts, status: JobStatus) -> i64 {
    counts.get(&("probe".to_string(), status)).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_fire_each_of_ten_periods_exactly_once() {
    for db in TestDatabase::all_at(start_time()).await {
        let backend = db.backend().name();
        let store_a = db.store().clone();
        let store_b = second_store(&db).await;
        let (queue_a, queue_b) = (queue(&store_a), queue(&store_b));
        let periodic = probe_every(FIFTEEN_MINUTES, Scope::System);
        let a = Scheduler::new(&queue_a, &registry(), periodic.clone(), SchedulerConfig::default()).unwrap();
        let b = Scheduler::new(&queue_b, &registry(), periodic, SchedulerConfig::default()).unwrap();
        let worker = worker(&queue_a, "w1");
        for period in 0..10 {
            // Both nodes tick at the same moment, twice each, racing for the same schedule row.
            let (a1, b1, a2, b2) = tokio::join!(a.tick(), b.tick(), a.tick(), b.tick());
            let fired: usize = [a1, b1, a2, b2].into_iter().map(|tick| tick.unwrap().fired).sum();
            assert_eq!(fired, 1, "{backend}: period {period} fired {fired} times");
            assert_eq!(worker.run_until_idle().await.unwrap(), 1, "{backend}: period {period}");
            db.fixed_clock().advance(chrono::Duration::minutes(15));
        }
        let counts = koppel_jobs::storage::jobs::job_counts(&store_a).await.unwrap();
        assert_eq!(
            probe_jobs(&counts, JobStatus::Succeeded),
            10,
            "{backend}: exactly ten runs"
        );
        assert_eq!(counts.values().sum::<i64>(), 10, "{backend}: {counts:?}");
        let schedule = &koppel_jobs::storage::schedules::schedules(&store_a, "probe")
            .await
            .unwrap()[0];
        assert_eq!(schedule.next_run_at, start_time() + chrono::Duration::minutes(150));
        store_b.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn after_downtime_a_schedule_fires_once_not_once_per_missed_period() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let scheduler = Scheduler::new(
            &queue,
            &registry(),
            probe_every(FIFTEEN_MINUTES, Scope::System),
            SchedulerConfig::default(),
        )
        .unwrap();
        let worker = worker(&queue, "w1");
        assert_eq!(
            scheduler.tick().await.unwrap().fired,
            1,
            "a new system schedule fires at once"
        );
        assert_eq!(scheduler.tick().await.unwrap().fired, 0);
        worker.run_until_idle().await.unwrap();

        // Ten hours and seven minutes without a scheduler: forty periods missed.
        db.fixed_clock().advance(chrono::Duration::minutes(10 * 60 + 7));
        assert_eq!(scheduler.tick().await.unwrap().fired, 1);
        assert_eq!(scheduler.tick().await.unwrap().fired, 0);
        let schedule = &koppel_jobs::storage::schedules::schedules(store, "probe")
            .await
            .unwrap()[0];
        assert_eq!(
            schedule.next_run_at,
            start_time() + chrono::Duration::minutes(10 * 60 + 15),
            "back on the grid"
        );
        assert_eq!(
            probe_jobs(
                &koppel_jobs::storage::jobs::job_counts(store).await.unwrap(),
                JobStatus::Queued
            ),
            1
        );
        assert_eq!(worker.run_until_idle().await.unwrap(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_period_that_comes_round_while_its_last_run_still_waits_joins_that_run() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let queue = queue(store);
        let scheduler = Scheduler::new(
            &queue,
            &registry(),
            probe_every(FIFTEEN_MINUTES, Scope::System),
            SchedulerConfig::default(),
        )
        .unwrap();
        scheduler.tick().await.unwrap();
        db.fixed_clock().advance(chrono::Duration::minutes(15));
        let tick = scheduler.tick().await.unwrap();
        assert_eq!(
            (tick.fired, tick.joined),
            (1, 1),
            "no worker ran the first: no second run piles up"
        );
        assert_eq!(
            probe_jobs(
                &koppel_jobs::storage::jobs::job_counts(store).await.unwrap(),
                JobStatus::Queued
            ),
            1
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn every_administration_gets_its_own_schedule_spread_over_the_interval() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = queue(store);
        let hour = Duration::from_secs(3600);
        let scheduler = Scheduler::new(
            &queue,
            &registry(),
            probe_every(hour, Scope::EveryAdministration),
            SchedulerConfig::default(),
        )
        .unwrap();
        scheduler.tick().await.unwrap();
        let schedules = koppel_jobs::storage::schedules::schedules(store, "probe")
            .await
            .unwrap();
        assert_eq!(schedules.len(), 3);
        for schedule in &schedules {
            assert!(schedule.administration.is_some());
            assert!(
                schedule.next_run_at >= start_time()
                    && schedule.next_run_at < start_time() + chrono::Duration::hours(1)
            );
        }
        db.fixed_clock().advance(chrono::Duration::hours(1));
        assert_eq!(scheduler.tick().await.unwrap().fired, 3);
        let runs = koppel_jobs::runs::list(
            store,
            fixture.sub1,
            &RunFilter {
                limit: 10,
                ..RunFilter::default()
            },
        )
        .await
        .unwrap()
        .runs;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].trigger, Trigger::Automatic);
        assert!(runs[0].scheduled_for.is_some());

        // The operator shortens the interval: schedules due later than one new interval move forward.
        let five = Duration::from_secs(300);
        let faster = Scheduler::new(
            &queue,
            &registry(),
            probe_every(five, Scope::EveryAdministration),
            SchedulerConfig::default(),
        )
        .unwrap();
        faster.tick().await.unwrap();
        for schedule in koppel_jobs::storage::schedules::schedules(store, "probe")
            .await
            .unwrap()
        {
            assert_eq!(schedule.interval_seconds, 300);
            assert!(schedule.next_run_at <= store.now() + chrono::Duration::minutes(5));
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_scheduler_refuses_configuration_that_cannot_work() {
    let db = TestDatabase::sqlite().await;
    let queue = queue(db.store());
    let unknown = vec![Periodic {
        kind: "autosync",
        scope: Scope::System,
        interval: FIFTEEN_MINUTES,
    }];
    assert_eq!(
        Scheduler::new(&queue, &registry(), unknown, SchedulerConfig::default()).err(),
        Some(ScheduleError::UnknownKind("autosync"))
    );
    let too_short = probe_every(Duration::from_millis(10), Scope::System);
    assert_eq!(
        Scheduler::new(&queue, &registry(), too_short, SchedulerConfig::default()).err(),
        Some(ScheduleError::IntervalTooShort("probe"))
    );
    db.cleanup().await;
}
