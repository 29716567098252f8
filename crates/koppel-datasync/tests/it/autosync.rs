//! Autosync: switching it on schedules automatic syncs on the operator's interval; off stops them.

use koppel_datasync::state::AutosyncSwitch;
use koppel_jobs::runs::{RunFilter, Trigger};
use koppel_jobs::{Periodic, Queue, Registry, Scheduler, SchedulerConfig};
use koppel_test_support::{Fixture, TestDatabase, fixed_start};
use std::time::Duration;

/// The scheduler with Autosync's periodic work only, every 15 minutes, as the binary wires it.
fn autosync(queue: &Queue) -> Scheduler {
    let mut registry = Registry::new();
    registry.register(koppel_datasync::DataSync::new(chrono::Duration::hours(6)));
    let periodic = vec![Periodic::of::<koppel_datasync::DataSync>(Duration::from_secs(900)).unwrap()];
    Scheduler::new(queue, &registry, periodic, SchedulerConfig::default()).unwrap()
}

#[tokio::test]
async fn autosync_on_fires_automatic_runs_and_off_stops_them() {
    for db in TestDatabase::all_at(fixed_start()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let queue = koppel_jobs::Queue::new(store.clone(), 3);
        let autosync = autosync(&queue);
        assert_eq!(
            autosync.tick().await.unwrap().fired,
            0,
            "nothing is scheduled while Autosync is off"
        );

        let state = koppel_datasync::state::set_autosync(store, a, AutosyncSwitch::On, Some(fixture.admin.id))
            .await
            .unwrap();
        assert!(state.autosync);
        assert_eq!(state.autosync_changed_by, Some(fixture.admin.id));
        assert_eq!(
            autosync.tick().await.unwrap().fired,
            1,
            "the first automatic run starts at once"
        );
        assert_eq!(autosync.tick().await.unwrap().fired, 0);
        db.fixed_clock().advance(chrono::Duration::minutes(16));
        // The first run is still queued (no worker here): the next period joins it.
        assert_eq!(autosync.tick().await.unwrap().fired, 1);
        let runs = koppel_jobs::runs::list(
            store,
            a,
            &RunFilter {
                kind: Some("data_sync".into()),
                limit: 10,
                ..RunFilter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(runs.runs.len(), 1);
        assert_eq!(runs.runs[0].trigger, Trigger::Automatic);

        koppel_datasync::state::set_autosync(store, a, AutosyncSwitch::Off, Some(fixture.admin.id))
            .await
            .unwrap();
        db.fixed_clock().advance(chrono::Duration::hours(1));
        assert_eq!(autosync.tick().await.unwrap().fired, 0, "off stops the automatic runs");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn autosync_waits_while_the_power_bi_licence_has_lapsed() {
    for db in TestDatabase::all_at(fixed_start()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let queue = koppel_jobs::Queue::new(store.clone(), 3);
        let autosync = autosync(&queue);
        koppel_datasync::state::set_autosync(store, fixture.sub1, AutosyncSwitch::On, Some(fixture.admin.id))
            .await
            .unwrap();
        let set_power_bi = |state| {
            store.set_licence(
                fixture.environment,
                koppel_domain::licence::PowerUp::PowerBi,
                state,
                0,
                koppel_store::platform::Actor::SYSTEM,
            )
        };
        set_power_bi(koppel_domain::licence::LicenceState::Inactive)
            .await
            .unwrap();
        assert_eq!(autosync.tick().await.unwrap().fired, 0, "no runs without the licence");
        db.fixed_clock().advance(chrono::Duration::hours(2));
        assert_eq!(
            autosync.tick().await.unwrap().fired,
            0,
            "still none, however long it lapses"
        );
        set_power_bi(koppel_domain::licence::LicenceState::Active)
            .await
            .unwrap();
        assert_eq!(
            autosync.tick().await.unwrap().fired,
            1,
            "one run once the licence is back"
        );
        assert_eq!(autosync.tick().await.unwrap().fired, 0);
        db.cleanup().await;
    }
}
