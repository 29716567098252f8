//! Administrations: exactly one main, subs within the licensed capacity, and permanent deletion of a sub
//! with all of its data.

use crate::seed;
use crate::{assert_conflict, assert_not_found};
use koppel_domain::licence::{LicenceError, LicenceState, PowerUp};
use koppel_domain::resources;
use koppel_domain::rights::Rights;
use koppel_store::StoreError;
use koppel_store::platform::{Actor, NewAdministration};
use koppel_store::records::ListQuery;
use koppel_test_support::{Fixture, TestDatabase};

fn new_administration(environment: koppel_domain::EnvironmentId, name: &str, is_main: bool) -> NewAdministration<'_> {
    NewAdministration {
        environment,
        name,
        is_main,
    }
}

#[tokio::test]
async fn an_environment_has_exactly_one_main() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let environment = store.create_environment("Leeg").await.expect("environment");
        store
            .set_licence(
                environment,
                PowerUp::SubAdministrations,
                LicenceState::Active,
                5,
                Actor::SYSTEM,
            )
            .await
            .expect("licence");
        assert_conflict(
            store
                .create_administration(new_administration(environment, "Sub", false), Actor::SYSTEM)
                .await,
            "no_main",
        );
        let main = store
            .create_administration(new_administration(environment, "Hoofd", true), Actor::SYSTEM)
            .await
            .expect("main");
        assert!(main.is_main);
        assert_conflict(
            store
                .create_administration(new_administration(environment, "Tweede hoofd", true), Actor::SYSTEM)
                .await,
            "main_exists",
        );
        assert_conflict(
            store
                .create_administration(new_administration(environment, "Hoofd", false), Actor::SYSTEM)
                .await,
            "already_exists",
        );
        assert_not_found(
            store
                .create_administration(
                    new_administration(koppel_domain::EnvironmentId(999_999), "Nergens", true),
                    Actor::SYSTEM,
                )
                .await,
        );
        assert_conflict(
            store.delete_administration(main.id, Actor::SYSTEM).await,
            "main_cannot_be_deleted",
        );
        assert_eq!(store.administration(main.id).await.expect("main stays"), main);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn subs_are_limited_by_the_licence() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let environment = fixture.environment;
        // The fixture's capacity is 5 and two subs exist.
        for name in ["Sub 3", "Sub 4", "Sub 5"] {
            store
                .create_administration(new_administration(environment, name, false), Actor::SYSTEM)
                .await
                .expect("within capacity");
        }
        match store
            .create_administration(new_administration(environment, "Sub 6", false), Actor::SYSTEM)
            .await
        {
            Err(StoreError::Licence(LicenceError::CapacityReached { capacity: 5 })) => {}
            other => panic!("expected the capacity to be reached, got {other:?}"),
        }
        // Deleting a sub makes room again.
        store
            .delete_administration(fixture.sub2, Actor::SYSTEM)
            .await
            .expect("delete sub");
        store
            .create_administration(new_administration(environment, "Sub 6", false), Actor::SYSTEM)
            .await
            .expect("room again");

        store
            .set_licence(
                environment,
                PowerUp::SubAdministrations,
                LicenceState::Inactive,
                5,
                Actor::SYSTEM,
            )
            .await
            .expect("licence");
        match store
            .create_administration(new_administration(environment, "Sub 7", false), Actor::SYSTEM)
            .await
        {
            Err(StoreError::Licence(LicenceError::Inactive(PowerUp::SubAdministrations))) => {}
            other => panic!("expected an inactive licence, got {other:?}"),
        }
        // Nothing is deleted when a licence lapses.
        assert_eq!(store.administrations(environment).await.expect("list").len(), 6);
        db.cleanup().await;
    }
}

/// Two subs created at the same moment with room for one: exactly one may succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_respect_the_capacity() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let environment = store.create_environment("Race").await.expect("environment");
        store
            .set_licence(
                environment,
                PowerUp::SubAdministrations,
                LicenceState::Active,
                1,
                Actor::SYSTEM,
            )
            .await
            .expect("licence");
        store
            .create_administration(new_administration(environment, "Hoofd", true), Actor::SYSTEM)
            .await
            .expect("main");
        for round in 0..5 {
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let attempts: Vec<_> = (0..2)
                .map(|attempt| {
                    let store = store.clone();
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let name = format!("Sub {round}-{attempt}");
                        store
                            .create_administration(new_administration(environment, &name, false), Actor::SYSTEM)
                            .await
                    })
                })
                .collect();
            let mut created = Vec::new();
            for attempt in attempts {
                match attempt.await.expect("task") {
                    Ok(administration) => created.push(administration),
                    Err(StoreError::Licence(LicenceError::CapacityReached { capacity: 1 })) => {}
                    Err(other) => panic!("unexpected error: {other:?}"),
                }
            }
            assert_eq!(created.len(), 1, "round {round} on {}", db.backend().name());
            let subs: Vec<_> = store
                .administrations(environment)
                .await
                .expect("list")
                .into_iter()
                .filter(|a| !a.is_main)
                .collect();
            assert_eq!(subs, created);
            store
                .delete_administration(created[0].id, Actor::SYSTEM)
                .await
                .expect("delete");
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_sub_removes_its_data_and_keeps_the_others() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let kept = seed::every_resource(store, fixture.sub1).await;
        let doomed = seed::every_resource(store, fixture.sub2).await;
        let kept_main = seed::every_resource(store, fixture.main).await;
        let count = |administration, spec| async move {
            let query = ListQuery {
                limit: 1000,
                ..ListQuery::default()
            };
            store
                .list_records(administration, spec, &query)
                .await
                .expect("list")
                .records
                .len()
        };
        let sub1_counts_before: Vec<usize> = {
            let mut counts = Vec::new();
            for spec in resources::ALL {
                counts.push(count(fixture.sub1, *spec).await);
            }
            counts
        };

        store
            .delete_administration(fixture.sub2, Actor(Some(fixture.admin.id)))
            .await
            .expect("delete sub 2");
        assert_not_found(store.administration(fixture.sub2).await);
        assert_not_found(store.delete_administration(fixture.sub2, Actor::SYSTEM).await);
        for spec in resources::ALL {
            assert_eq!(count(fixture.sub2, *spec).await, 0, "{} of sub 2", spec.slug);
            assert_not_found(store.get_record(fixture.sub2, spec, doomed.of(spec).id).await);
        }
        let mut sub1_counts_after = Vec::new();
        for spec in resources::ALL {
            sub1_counts_after.push(count(fixture.sub1, *spec).await);
            assert_eq!(
                &store
                    .get_record(fixture.sub1, spec, kept.of(spec).id)
                    .await
                    .expect("sub 1 kept"),
                kept.of(spec)
            );
            assert_eq!(
                &store
                    .get_record(fixture.main, spec, kept_main.of(spec).id)
                    .await
                    .expect("main kept"),
                kept_main.of(spec)
            );
        }
        assert_eq!(sub1_counts_after, sub1_counts_before);

        // Writing to or reading changes of the deleted sub fails; nobody has rights there any more.
        assert_not_found(store.write(fixture.sub2).await.map(|_| ()));
        let mut snapshot = store.snapshot().await.expect("snapshot");
        assert_not_found(snapshot.change_position(fixture.sub2).await);
        snapshot.rollback().await.expect("end");
        assert_eq!(
            store.rights(fixture.admin.id, fixture.sub2).await.expect("rights"),
            None
        );
        let memberships = store.memberships(fixture.admin.id).await.expect("memberships");
        let ids: Vec<_> = memberships.iter().map(|m| m.administration.id).collect();
        assert_eq!(ids, vec![fixture.main, fixture.sub1]);
        assert_eq!(
            store.rights(fixture.admin.id, fixture.sub1).await.expect("rights"),
            Some(Rights::all())
        );
        assert_not_found(
            store
                .set_rights(fixture.user.id, fixture.sub2, Rights::all(), Actor::SYSTEM)
                .await,
        );

        // The audit trail outlives the sub.
        let audit = store.audit_log(fixture.environment, None, 100).await.expect("audit");
        let deletion = audit
            .iter()
            .find(|entry| entry.action == "administration.delete_sub")
            .expect("deletion audited");
        assert_eq!(deletion.administration_id, Some(fixture.sub2.0));
        assert_eq!(deletion.user_id, Some(fixture.admin.id.0));
        assert_eq!(deletion.detail, "Vestiging Zwolle");
        assert_eq!(
            audit.iter().filter(|e| e.action == "administration.delete_sub").count(),
            1,
            "a failed second deletion is not audited"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn administrative_actions_are_audited() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let audit = store.audit_log(fixture.environment, None, 100).await.expect("audit");
        // Newest first.
        assert!(audit.windows(2).all(|pair| pair[0].id > pair[1].id));
        let actions: Vec<(&str, Option<i64>)> = audit
            .iter()
            .rev()
            .map(|entry| (entry.action.as_str(), entry.administration_id))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("licence.set", None),
                ("licence.set", None),
                ("licence.set", None),
                ("administration.create_main", Some(fixture.main.0)),
                ("administration.create_sub", Some(fixture.sub1.0)),
                ("administration.create_sub", Some(fixture.sub2.0)),
                ("rights.set", Some(fixture.main.0)),
                ("rights.set", Some(fixture.sub1.0)),
                ("rights.set", Some(fixture.sub2.0)),
                ("rights.set", Some(fixture.sub1.0)),
            ],
            "{}",
            db.backend().name()
        );
        let granted = audit.first().expect("latest entry");
        assert_eq!(granted.user_id, Some(fixture.admin.id.0), "who");
        assert!(granted.detail.contains(&fixture.user.email), "what: {}", granted.detail);
        assert!(
            granted.detail.contains("read_data, write_data"),
            "what: {}",
            granted.detail
        );

        // Paging backwards.
        let older = store
            .audit_log(fixture.environment, Some(granted.id), 2)
            .await
            .expect("audit");
        assert_eq!(older.len(), 2);
        assert_eq!(older[0].id, audit[1].id);

        store
            .record_audit(
                fixture.environment,
                Some(fixture.sub1),
                Actor(Some(fixture.user.id)),
                "datasync.token_created",
                "Power BI",
            )
            .await
            .expect("record");
        let latest = store.audit_log(fixture.environment, None, 1).await.expect("audit");
        assert_eq!(latest[0].action, "datasync.token_created");
        // Another environment's log is separate.
        let other = store.create_environment("Ander").await.expect("environment");
        assert!(store.audit_log(other, None, 100).await.expect("audit").is_empty());
        db.cleanup().await;
    }
}
