//! Repeated full resyncs do not multiply storage: a resync asked for within the retention of the
//! last full sync joins it (runs incrementally on top of it), one asked for while a sync is queued
//! joins that sync, and pruning keeps at most the current generation and the one before it.

use crate::support::{ids_at, relation};
use koppel_datasync::engine::DataSyncRequest;
use koppel_domain::AdministrationId;
use koppel_domain::record::Value;
use koppel_domain::resources::RELATIONS;
use koppel_jobs::storage::jobs::Enqueued;
use koppel_store::Store;
use koppel_test_support::{Fixture, TestDatabase, fixed_start};

const RETENTION_HOURS: i64 = 6;

fn requested_full_resync() -> DataSyncRequest {
    DataSyncRequest {
        full: true,
        join_full_within: Some(chrono::Duration::hours(RETENTION_HOURS)),
        ..DataSyncRequest::default()
    }
}

async fn three_relations(store: &Store, a: AdministrationId) -> Vec<i64> {
    let mut ids = Vec::new();
    for (code, name) in [("R1", "Een"), ("R2", "Twee"), ("R3", "Drie")] {
        ids.push(relation(store, a, code, name).await.0);
    }
    ids
}

#[tokio::test]
async fn back_to_back_full_syncs_keep_at_most_two_generations() {
    for db in TestDatabase::all_at(fixed_start()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let ids = three_relations(store, a).await;
        let retention = chrono::Duration::hours(RETENTION_HOURS);
        // Full syncs a minute apart, all well within the retention (no joining: every one copies all).
        let mut removed = Vec::new();
        for _ in 0..5 {
            db.fixed_clock().advance(chrono::Duration::minutes(1));
            let outcome = koppel_datasync::engine::run(store, a, &DataSyncRequest::full())
                .await
                .unwrap();
            assert!(outcome.full);
            removed.push(koppel_datasync::state::prune(store, a, retention).await.unwrap());
        }
        // Syncs 1 and 2 have nothing older to drop; from sync 3 on each prune drops the generation
        // before the previous one (three customers, and the other sets are empty).
        assert_eq!(removed, vec![0, 0, 3, 3, 3]);
        let state = koppel_datasync::state::read(store, a).await.unwrap();
        assert_eq!((state.current_sync, state.oldest_sync), (5, 4));
        assert_eq!(ids_at(store, a, "Customers", 5).await, ids);
        assert_eq!(
            ids_at(store, a, "Customers", 4).await,
            ids,
            "a reader of sync 4 keeps paging"
        );
        assert!(
            ids_at(store, a, "Customers", 3).await.is_empty(),
            "sync 3 is gone (410)"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_full_resync_within_the_retention_of_the_last_one_joins_it() {
    for db in TestDatabase::all_at(fixed_start()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let ids = three_relations(store, a).await;
        let first = koppel_datasync::engine::run(store, a, &requested_full_resync())
            .await
            .unwrap();
        assert!(
            first.full && first.joined_full.is_none(),
            "the first sync copies everything"
        );

        db.fixed_clock().advance(chrono::Duration::minutes(30));
        let mut patch = vec![None; RELATIONS.fields.len()];
        patch[RELATIONS.field_index("name")] = Some(Value::Text("Een BV".into()));
        store
            .update_record(a, &RELATIONS, koppel_domain::RecordId(ids[0]), patch)
            .await
            .unwrap();
        let joined = koppel_datasync::engine::run(store, a, &requested_full_resync())
            .await
            .unwrap();
        assert!(!joined.full, "no second whole copy");
        assert_eq!(joined.joined_full, Some((1, first.committed_at)));
        let customers = joined.tables.iter().find(|t| t.entity_set == "Customers").unwrap();
        assert_eq!((customers.inserted, customers.updated, customers.deleted), (0, 1, 0));
        assert_eq!(ids_at(store, a, "Customers", 2).await, ids);

        // Past the retention a full resync copies everything again.
        db.fixed_clock().advance(chrono::Duration::hours(RETENTION_HOURS));
        let again = koppel_datasync::engine::run(store, a, &requested_full_resync())
            .await
            .unwrap();
        assert!(again.full && again.joined_full.is_none());
        assert_eq!(ids_at(store, a, "Customers", 3).await, ids);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_full_resync_asked_for_while_a_sync_is_queued_joins_it() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let user = fixture.admin.id;
        let first = koppel_datasync::sync_now(store, a, user, true).await.unwrap();
        assert!(matches!(first, Enqueued::Created { .. }), "{first:?}");
        let second = koppel_datasync::sync_now(store, a, user, true).await.unwrap();
        assert!(matches!(second, Enqueued::Joined { .. }), "{second:?}");
        assert_eq!(first.run(), second.run());
        db.cleanup().await;
    }
}
