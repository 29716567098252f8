//! The Licence Manager: power-up states, trials that end with the clock, and capacity.

use crate::{assert_invalid, start_time};
use chrono::Duration;
use koppel_domain::licence::{LicenceError, LicenceState, PowerUp};
use koppel_store::StoreError;
use koppel_store::platform::{Actor, NewAdministration};
use koppel_test_support::{Fixture, TestDatabase};

#[tokio::test]
async fn a_new_environment_has_every_power_up_inactive() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let environment = store.create_environment("Nieuw").await.expect("environment");
        let licences = store.licences(environment).await.expect("licences");
        let states: Vec<(PowerUp, LicenceState, i64)> =
            licences.iter().map(|l| (l.power_up, l.state, l.capacity)).collect();
        assert_eq!(
            states,
            PowerUp::ALL
                .iter()
                .map(|p| (*p, LicenceState::Inactive, 0))
                .collect::<Vec<_>>()
        );
        for power_up in PowerUp::ALL {
            match store.require_licence(environment, power_up).await {
                Err(StoreError::Licence(LicenceError::Inactive(p))) if p == power_up => {}
                other => panic!("expected {power_up:?} to be inactive, got {other:?}"),
            }
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_trial_runs_through_its_last_day_by_the_clock() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let clock = db.fixed_clock();
        let fixture = Fixture::create(store).await;
        // The fixture's AccountView trial ends 30 days after the start.
        let until = start_time().date_naive() + Duration::days(30);
        let licences = store.licences(fixture.environment).await.expect("licences");
        let accountview = licences
            .iter()
            .find(|l| l.power_up == PowerUp::Accountview)
            .expect("accountview");
        assert_eq!(accountview.state, LicenceState::Trial { until });
        assert_eq!(accountview.changed_at, start_time());
        store
            .require_licence(fixture.environment, PowerUp::Accountview)
            .await
            .expect("trial running");

        clock.set(until.and_hms_opt(23, 59, 59).unwrap().and_utc());
        store
            .require_licence(fixture.environment, PowerUp::Accountview)
            .await
            .expect("the last day counts");
        clock.advance(Duration::seconds(1));
        match store.require_licence(fixture.environment, PowerUp::Accountview).await {
            Err(StoreError::Licence(LicenceError::TrialEnded {
                power_up: PowerUp::Accountview,
                until: ended,
            })) if ended == until => {}
            other => panic!("expected the trial to have ended, got {other:?}"),
        }
        // Other power-ups are unaffected; activating ends the trouble.
        store
            .require_licence(fixture.environment, PowerUp::PowerBi)
            .await
            .expect("power bi active");
        let active = store
            .set_licence(
                fixture.environment,
                PowerUp::Accountview,
                LicenceState::Active,
                0,
                Actor(Some(fixture.admin.id)),
            )
            .await
            .expect("activate");
        assert_eq!(active.state, LicenceState::Active);
        assert_eq!(
            active.changed_at,
            until.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
        );
        store
            .require_licence(fixture.environment, PowerUp::Accountview)
            .await
            .expect("active");
        let audit = store.audit_log(fixture.environment, None, 1).await.expect("audit");
        assert_eq!(audit[0].action, "licence.set");
        assert_eq!(audit[0].detail, "accountview active capacity 0");
        assert_eq!(audit[0].user_id, Some(fixture.admin.id.0));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_ended_sub_administrations_trial_stops_new_subs() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let until = start_time().date_naive() + Duration::days(7);
        store
            .set_licence(
                fixture.environment,
                PowerUp::SubAdministrations,
                LicenceState::Trial { until },
                5,
                Actor::SYSTEM,
            )
            .await
            .expect("trial");
        let new = |name| NewAdministration {
            environment: fixture.environment,
            name,
            is_main: false,
        };
        store
            .create_administration(new("Tijdens proef"), Actor::SYSTEM)
            .await
            .expect("trial running");
        db.fixed_clock().advance(Duration::days(8));
        match store.create_administration(new("Na proef"), Actor::SYSTEM).await {
            Err(StoreError::Licence(LicenceError::TrialEnded { .. })) => {}
            other => panic!("expected the trial to have ended, got {other:?}"),
        }
        assert_eq!(store.administrations(fixture.environment).await.expect("list").len(), 4);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn capacity_must_be_sensible() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let environment = store.create_environment("Nieuw").await.expect("environment");
        for capacity in [-1, 1001] {
            assert_invalid(
                store
                    .set_licence(
                        environment,
                        PowerUp::SubAdministrations,
                        LicenceState::Active,
                        capacity,
                        Actor::SYSTEM,
                    )
                    .await,
                "capacity",
                "invalid",
            );
        }
        let licence = store
            .set_licence(
                environment,
                PowerUp::SubAdministrations,
                LicenceState::Active,
                1000,
                Actor::SYSTEM,
            )
            .await
            .expect("set");
        assert_eq!(licence.capacity, 1000);
        db.cleanup().await;
    }
}
