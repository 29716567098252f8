//! Change tracking: every insert, update and delete since position P, up to a consistent position Q,
//! and tombstones that stay until they are pruned.

use crate::seed;
use koppel_domain::record::ResourceSpec;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_domain::{AdministrationId, RecordId};
use koppel_store::Store;
use koppel_store::changes::Deletion;
use koppel_store::records::StoredRecord;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

/// What a sync consumer reads in one pass: everything after `after`, up to `position`, from one snapshot.
#[derive(Debug)]
pub struct ChangeSet {
    pub position: i64,
    pub changed: Vec<StoredRecord>,
    pub deleted: Vec<Deletion>,
}

/// Page size for reading changes; small, so paging is exercised.
const PAGE: u32 = 7;

/// Reads the changes of one resource after position `after`, paging by id, in one snapshot.
pub async fn changes_since(
    store: &Store,
    administration: AdministrationId,
    spec: &ResourceSpec,
    after: i64,
) -> ChangeSet {
    let mut snapshot = store.snapshot().await.expect("snapshot");
    let position = snapshot.change_position(administration).await.expect("position");
    let mut changed = Vec::new();
    let mut after_id = 0;
    loop {
        let page = snapshot
            .changed_records(administration, spec, after, after_id, PAGE)
            .await
            .expect("changed records");
        let full = page.len() == PAGE as usize;
        after_id = page.last().map_or(after_id, |record| record.id.0);
        changed.extend(page);
        if !full {
            break;
        }
    }
    let deleted = snapshot
        .deleted_records(administration, spec, after)
        .await
        .expect("deleted records");
    snapshot.rollback().await.expect("end snapshot");
    ChangeSet {
        position,
        changed,
        deleted,
    }
}

async fn position(store: &Store, administration: AdministrationId) -> i64 {
    let mut snapshot = store.snapshot().await.expect("snapshot");
    let position = snapshot.change_position(administration).await.expect("position");
    snapshot.rollback().await.expect("end snapshot");
    position
}

fn ids(records: &[StoredRecord]) -> Vec<RecordId> {
    records.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn changes_since_a_position_up_to_a_consistent_position() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let start = position(store, a).await;

        let first = seed::relation(store, a, "D1").await;
        let second = seed::relation(store, a, "D2").await;
        let material = seed::material(store, a, "M1", "9.95").await;
        assert_eq!(
            (first.change_seq, second.change_seq, material.change_seq),
            (start + 1, start + 2, start + 3),
            "every write takes the next position"
        );
        // Writes elsewhere do not move this administration's position.
        seed::relation(store, fixture.sub2, "D1").await;

        let batch = changes_since(store, a, &RELATIONS, start).await;
        assert_eq!(batch.position, start + 3, "{}", db.backend().name());
        assert_eq!(batch.changed, vec![first.clone(), second.clone()]);
        assert!(batch.deleted.is_empty());
        assert_eq!(
            changes_since(store, a, &MATERIALS, start).await.changed,
            vec![material.clone()]
        );
        let quiet = changes_since(store, a, &RELATIONS, batch.position).await;
        assert!(quiet.changed.is_empty() && quiet.deleted.is_empty());
        assert_eq!(quiet.position, batch.position);

        // An update and a delete: the consumer sees the new version and a tombstone.
        let renamed = seed::update(store, a, &RELATIONS, first.id, json!({"name": "Nieuwe naam"})).await;
        store.delete_record(a, &RELATIONS, second.id).await.expect("delete");
        let next = changes_since(store, a, &RELATIONS, batch.position).await;
        assert_eq!(next.position, batch.position + 2);
        assert_eq!(next.changed, vec![renamed.clone()]);
        assert_eq!(next.deleted.len(), 1);
        assert_eq!(next.deleted[0].id, second.id);
        assert_eq!(next.deleted[0].change_seq, batch.position + 2);
        assert!(
            changes_since(store, a, &MATERIALS, batch.position)
                .await
                .changed
                .is_empty()
        );

        // A consumer starting from scratch gets the current state: no deleted row, one tombstone.
        let everything = changes_since(store, a, &RELATIONS, 0).await;
        assert_eq!(everything.changed, vec![renamed]);
        assert_eq!(ids_of_deletions(&everything.deleted), vec![second.id]);
        db.cleanup().await;
    }
}

fn ids_of_deletions(deleted: &[Deletion]) -> Vec<RecordId> {
    deleted.iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn changes_page_by_id_within_one_snapshot() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let start = position(store, a).await;
        let mut created = Vec::new();
        for number in 0..(PAGE * 2 + 3) {
            created.push(seed::relation(store, a, &format!("D{number}")).await);
        }
        let batch = changes_since(store, a, &RELATIONS, start).await;
        assert_eq!(ids(&batch.changed), ids(&created));

        // Paging by hand: pages of 7, 7 and 3.
        let mut snapshot = store.snapshot().await.expect("snapshot");
        let mut sizes = Vec::new();
        let mut after_id = 0;
        loop {
            let page = snapshot
                .changed_records(a, &RELATIONS, start, after_id, PAGE)
                .await
                .expect("page");
            sizes.push(page.len());
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after_id = last.id.0,
                _ => break,
            }
        }
        snapshot.rollback().await.expect("end");
        assert_eq!(sizes, vec![7, 7, 3]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn every_row_has_a_utc_modified_at_that_follows_its_position() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let seeded = seed::every_resource(store, fixture.sub1).await;
        let mut by_position: Vec<&StoredRecord> = seeded.records.iter().map(|(_, record)| record).collect();
        by_position.sort_by_key(|record| (record.change_seq, record.id));
        for pair in by_position.windows(2) {
            assert!(
                pair[0].modified_at <= pair[1].modified_at,
                "modified_at goes backwards between positions {} and {} on {}",
                pair[0].change_seq,
                pair[1].change_seq,
                db.backend().name()
            );
        }
        // Timestamps come back as UTC with microseconds, exactly as written.
        for (spec, record) in &seeded.records {
            let read = store.get_record(fixture.sub1, spec, record.id).await.expect("get");
            assert_eq!(read.modified_at, record.modified_at);
            assert_eq!(read.modified_at.timestamp_subsec_nanos() % 1000, 0);
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tombstones_stay_until_pruned() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let mut doomed = Vec::new();
        for code in ["D1", "D2", "D3"] {
            doomed.push(seed::relation(store, a, code).await);
        }
        let elsewhere = seed::relation(store, fixture.sub2, "D1").await;
        store
            .delete_record(fixture.sub2, &RELATIONS, elsewhere.id)
            .await
            .expect("delete");
        let mut deleted_at = Vec::new();
        for record in &doomed {
            store.delete_record(a, &RELATIONS, record.id).await.expect("delete");
            deleted_at.push(position(store, a).await);
        }
        let all = changes_since(store, a, &RELATIONS, 0).await;
        assert_eq!(ids_of_deletions(&all.deleted), ids(&doomed));
        assert!(all.changed.is_empty());

        // A consumer that took in everything up to the second delete lets those tombstones go.
        let pruned = store.prune_tombstones(a, deleted_at[1]).await.expect("prune");
        assert_eq!(pruned, 2);
        let remaining = changes_since(store, a, &RELATIONS, 0).await;
        assert_eq!(ids_of_deletions(&remaining.deleted), vec![doomed[2].id]);
        assert_eq!(store.prune_tombstones(a, deleted_at[1]).await.expect("prune"), 0);

        // Pruning one administration leaves another's tombstones alone.
        let other = changes_since(store, fixture.sub2, &RELATIONS, 0).await;
        assert_eq!(ids_of_deletions(&other.deleted), vec![elsewhere.id]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_rolled_back_write_leaves_no_trace() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let kept = seed::relation(store, a, "D1").await;
        let start = position(store, a).await;

        let mut write = store.write(a).await.expect("write");
        assert_eq!(write.change_seq, start + 1);
        write
            .insert(
                &RELATIONS,
                seed::values(&RELATIONS, json!({"code": "D2", "name": "Weg", "kind": "person"})),
            )
            .await
            .expect("insert");
        write.delete(&RELATIONS, kept.id).await.expect("delete");
        write.rollback().await.expect("rollback");

        let after = changes_since(store, a, &RELATIONS, start).await;
        assert_eq!(after.position, start);
        assert!(after.changed.is_empty() && after.deleted.is_empty());
        assert_eq!(store.get_record(a, &RELATIONS, kept.id).await.expect("kept"), kept);

        // The position is handed out again, which is safe: nobody could have seen it.
        let next = seed::relation(store, a, "D3").await;
        assert_eq!(next.change_seq, start + 1);
        assert_eq!(changes_since(store, a, &RELATIONS, start).await.changed, vec![next]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn one_transaction_is_one_position() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let existing = seed::relation(store, a, "D1").await;
        let start = position(store, a).await;

        let mut write = store.write(a).await.expect("write");
        let created = write
            .insert(
                &RELATIONS,
                seed::values(&RELATIONS, json!({"code": "D2", "name": "Nieuw", "kind": "company"})),
            )
            .await
            .expect("insert");
        let material = write
            .insert(
                &MATERIALS,
                seed::values(
                    &MATERIALS,
                    json!({"code": "M1", "description": "Kraan", "unit": "stuk", "price": "1", "vat_rate": "21"}),
                ),
            )
            .await
            .expect("insert");
        write.delete(&RELATIONS, existing.id).await.expect("delete");
        // Inside the transaction its own position is already visible.
        assert_eq!(write.tx().change_position(a).await.expect("position"), start + 1);
        write.commit().await.expect("commit");

        let relations = changes_since(store, a, &RELATIONS, start).await;
        assert_eq!(relations.position, start + 1);
        assert_eq!(relations.changed, vec![created.clone()]);
        assert_eq!(ids_of_deletions(&relations.deleted), vec![existing.id]);
        assert_eq!(relations.deleted[0].change_seq, start + 1);
        assert_eq!(relations.deleted[0].deleted_at, created.modified_at);
        assert_eq!(changes_since(store, a, &MATERIALS, start).await.changed, vec![material]);
        db.cleanup().await;
    }
}
