//! Syncs: first full, then incremental with inserts, updates and deletes; pinned readers; crashes;
//! pruning.

use crate::support::{create, ids_at, relation, rows_at};
use koppel_datasync::engine::DataSyncRequest;
use koppel_datasync::engine::ProgressHook;
use koppel_datasync::engine::SyncProgress;
use koppel_datasync::engine::run_with_faults;
use koppel_datasync::faults::{FaultFuture, Faults};
use koppel_domain::AdministrationId;
use koppel_domain::record::Value;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_store::{Store, StoreError};
use koppel_test_support::{Fixture, TestDatabase, fixed_start};
use serde_json::json;

/// Fails the sync before it writes the entity set with this index, as a killed process would stop it.
struct FailBefore(usize);

impl Faults for FailBefore {
    fn before_set(&self, _administration: AdministrationId, index: usize) -> FaultFuture<'_> {
        let fail = index == self.0;
        Box::pin(async move {
            if fail {
                return Err(StoreError::conflict("sync_interrupted", "the sync was interrupted"));
            }
            Ok(())
        })
    }
}

fn incremental() -> DataSyncRequest {
    DataSyncRequest::default()
}

#[tokio::test]
async fn an_incremental_sync_copies_inserts_updates_and_deletes_and_keeps_the_old_snapshot() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let first = relation(store, a, "R1", "Bakker Installatie").await;
        let second = relation(store, a, "R2", "Jansen Techniek").await;
        let third = relation(store, a, "R3", "De Vries").await;
        // Another administration's data never enters this one's dataset.
        relation(store, fixture.sub2, "R1", "Elders").await;

        let initial = koppel_datasync::engine::run(store, a, &incremental())
            .await
            .expect("first sync");
        assert!(initial.full, "the first sync copies everything");
        let customers = initial.tables.iter().find(|t| t.entity_set == "Customers").unwrap();
        assert_eq!((customers.inserted, customers.updated, customers.deleted), (3, 0, 0));
        assert_eq!(ids_at(store, a, "Customers", 1).await, vec![first.0, second.0, third.0]);

        store
            .update_record(a, &RELATIONS, second, {
                let mut patch = vec![None; RELATIONS.fields.len()];
                patch[RELATIONS.field_index("name")] = Some(Value::Text("Jansen & Zn".into()));
                patch
            })
            .await
            .expect("update");
        store.delete_record(a, &RELATIONS, third).await.expect("delete");
        let fourth = relation(store, a, "R4", "Smit Service").await;

        let next = koppel_datasync::engine::run(store, a, &incremental())
            .await
            .expect("second sync");
        assert!(!next.full);
        assert_eq!(next.sync_no, 2);
        let customers = next.tables.iter().find(|t| t.entity_set == "Customers").unwrap();
        assert_eq!((customers.inserted, customers.updated, customers.deleted), (1, 1, 1));
        assert_eq!(
            ids_at(store, a, "Customers", 2).await,
            vec![first.0, second.0, fourth.0]
        );
        // Readers pinned to sync 1 still see sync 1 exactly.
        assert_eq!(ids_at(store, a, "Customers", 1).await, vec![first.0, second.0, third.0]);
        let name_column = koppel_datasync::feed::feed()
            .set("Customers")
            .unwrap()
            .columns
            .iter()
            .position(|c| c.property == "Name")
            .unwrap();
        let now = rows_at(store, a, "Customers", 2, &[]).await;
        assert_eq!(now[1][name_column], Value::Text("Jansen & Zn".into()));
        let before = rows_at(store, a, "Customers", 1, &[]).await;
        assert_eq!(before[1][name_column], Value::Text("Jansen Techniek".into()));

        // Nothing changed: a sync still commits (fresh "data up to") and writes nothing.
        let idle = koppel_datasync::engine::run(store, a, &incremental())
            .await
            .expect("idle sync");
        assert_eq!((idle.inserted(), idle.updated(), idle.deleted()), (0, 0, 0));
        let state = koppel_datasync::state::read(store, a).await.unwrap();
        assert_eq!(state.current_sync, 3);
        assert_eq!(state.synced_at, Some(idle.committed_at));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_full_resync_converges_to_the_source_and_money_stays_exact() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let material = create(
            store,
            a,
            &MATERIALS,
            json!({"code": "CV-KETEL", "description": "CV-ketel", "unit": "stuk", "price": "1234.56", "vat_rate": "21"}),
        )
        .await;
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let full = koppel_datasync::engine::run(store, a, &DataSyncRequest::full())
            .await
            .unwrap();
        assert!(full.full);
        let materials = full.tables.iter().find(|t| t.entity_set == "Materials").unwrap();
        assert_eq!((materials.inserted, materials.updated, materials.deleted), (0, 1, 0));
        let rows = rows_at(store, a, "Materials", 2, &[]).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], Value::Integer(material.0));
        let set = koppel_datasync::feed::feed().set("Materials").unwrap();
        let price = set.columns.iter().position(|c| c.property == "Price").unwrap();
        let mut written = String::new();
        koppel_datasync::feed::write_value(&mut written, &set.columns[price], &rows[0][price]);
        assert_eq!(written, "1234.56");
        db.cleanup().await;
    }
}

/// A reader pages through sync N while sync N+1 commits in between: it sees exactly sync N.
#[tokio::test]
async fn a_reader_paging_while_a_sync_commits_sees_no_lost_or_repeated_rows() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let mut ids = Vec::new();
        for n in 0..10 {
            ids.push(relation(store, a, &format!("R{n}"), &format!("Relatie {n}")).await.0);
        }
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let set = koppel_datasync::feed::feed().set("Customers").unwrap();
        let columns: Vec<_> = set.columns.iter().map(|c| (c.column, c.storage)).collect();
        let read = |after: Option<i64>| koppel_datasync::rows::ReportingRead {
            administration: a,
            source: set.source,
            sync: 1,
            columns: &columns,
            filter: &[],
            order: &[],
            after_key: after,
            offset: 0,
            limit: 4,
        };
        let first_page = koppel_datasync::rows::fetch(store, &read(None)).await.unwrap();
        // Between pages: rows before and after the cursor change, one is deleted, one is added.
        store
            .delete_record(a, &RELATIONS, koppel_domain::RecordId(ids[1]))
            .await
            .unwrap();
        store
            .delete_record(a, &RELATIONS, koppel_domain::RecordId(ids[7]))
            .await
            .unwrap();
        relation(store, a, "R-NEW", "Nieuw").await;
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let mut seen: Vec<i64> = first_page.iter().map(|r| r[0].as_i64().unwrap()).collect();
        let mut after = seen.last().copied();
        loop {
            let page = koppel_datasync::rows::fetch(store, &read(after)).await.unwrap();
            seen.extend(page.iter().map(|r| r[0].as_i64().unwrap()));
            after = seen.last().copied();
            if page.len() < 4 {
                break;
            }
        }
        assert_eq!(seen, ids, "the pinned reader sees sync 1 exactly");
        db.cleanup().await;
    }
}

/// A sync that dies before its commit leaves the last good snapshot; the next one converges.
///
/// The failure is injected inside the sync's transaction (after some tables were written), and the
/// transaction is dropped without commit — what a killed process leaves behind.
#[tokio::test]
async fn an_interrupted_sync_leaves_the_last_snapshot_and_the_next_run_finishes_the_job() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        relation(store, a, "R1", "Een").await;
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let gone = relation(store, a, "R2", "Twee").await;
        relation(store, a, "R3", "Drie").await;
        store.delete_record(a, &RELATIONS, gone).await.unwrap();
        let interrupted = run_with_faults(store, a, &DataSyncRequest::default(), &FailBefore(3)).await;
        assert!(interrupted.is_err());
        let state = koppel_datasync::state::read(store, a).await.unwrap();
        assert_eq!(state.current_sync, 1, "nothing of the interrupted sync is visible");
        assert_eq!(ids_at(store, a, "Customers", 1).await.len(), 1);
        let next = koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        assert_eq!(next.sync_no, 2);
        let source = store
            .list_records(
                a,
                &RELATIONS,
                &koppel_store::records::ListQuery {
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let source_ids: Vec<i64> = source.records.iter().map(|r| r.id.0).collect();
        assert_eq!(ids_at(store, a, "Customers", 2).await, source_ids);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn replaced_versions_are_pruned_after_the_retention_and_not_before() {
    for db in TestDatabase::all_at(fixed_start()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let r = relation(store, a, "R1", "Een").await;
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        db.fixed_clock().advance(chrono::Duration::minutes(10));
        store.delete_record(a, &RELATIONS, r).await.unwrap();
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let retention = chrono::Duration::hours(6);
        assert_eq!(koppel_datasync::state::prune(store, a, retention).await.unwrap(), 0);
        assert_eq!(ids_at(store, a, "Customers", 1).await, vec![r.0]);
        db.fixed_clock().advance(chrono::Duration::hours(7));
        assert_eq!(koppel_datasync::state::prune(store, a, retention).await.unwrap(), 1);
        assert_eq!(koppel_datasync::state::read(store, a).await.unwrap().oldest_sync, 2);
        assert!(ids_at(store, a, "Customers", 1).await.is_empty());
        db.cleanup().await;
    }
}

/// A full resync writes a new generation and leaves the old one to readers of earlier syncs; later
/// incremental syncs touch only the new one, and pruning removes the old one whole.
#[tokio::test]
async fn a_full_resync_writes_a_new_generation_that_hides_the_old_one_until_pruned() {
    for db in TestDatabase::all_at(fixed_start()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let first = relation(store, a, "R1", "Bakker Installatie").await;
        let second = relation(store, a, "R2", "Jansen Techniek").await;
        let third = relation(store, a, "R3", "De Vries").await;
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        store
            .update_record(a, &RELATIONS, second, rename("Jansen & Zn"))
            .await
            .unwrap();
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let at_two = customers_at(store, a, 2).await;

        store.delete_record(a, &RELATIONS, third).await.unwrap();
        let fourth = relation(store, a, "R4", "Smit Service").await;
        let full = DataSyncRequest::full();
        let resync = koppel_datasync::engine::run(store, a, &full).await.unwrap();
        assert_eq!(resync.sync_no, 3);
        let customers = resync.tables.iter().find(|t| t.entity_set == "Customers").unwrap();
        assert_eq!(
            (customers.inserted, customers.updated, customers.deleted),
            (0, 3, 0),
            "three rows shown before, three after: counted net"
        );
        assert_eq!(
            ids_at(store, a, "Customers", 3).await,
            vec![first.0, second.0, fourth.0]
        );
        assert_eq!(customers_at(store, a, 3).await, source_customers(store, a).await);
        assert_eq!(customers_at(store, a, 2).await, at_two, "readers of sync 2 keep sync 2");
        assert_eq!(ids_at(store, a, "Customers", 1).await, vec![first.0, second.0, third.0]);

        store
            .update_record(a, &RELATIONS, first, rename("Bakker BV"))
            .await
            .unwrap();
        let next = koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        assert!(!next.full);
        let customers = next.tables.iter().find(|t| t.entity_set == "Customers").unwrap();
        assert_eq!(
            (customers.inserted, customers.updated, customers.deleted),
            (0, 1, 0),
            "the old generation's version of R1 is not closed again"
        );
        assert_eq!(customers_at(store, a, 4).await, source_customers(store, a).await);
        assert_eq!(customers_at(store, a, 2).await, at_two);

        // All four syncs are older than the retention: only sync 4's three versions stay. Gone are
        // R2 and R1 as closed (by syncs 2 and 4) and generation 1's R1, R2 (renamed) and R3.
        db.fixed_clock().advance(chrono::Duration::hours(7));
        assert_eq!(
            koppel_datasync::state::prune(store, a, chrono::Duration::hours(6))
                .await
                .unwrap(),
            5
        );
        assert_eq!(customers_at(store, a, 4).await, source_customers(store, a).await);
        assert!(ids_at(store, a, "Customers", 2).await.is_empty());
        db.cleanup().await;
    }
}

/// More changes than one short transaction should take (after a bulk import, say): the sync runs
/// full, in chunks, and converges; under the limit it stays incremental.
#[tokio::test]
async fn a_burst_of_changes_past_the_limit_runs_as_a_chunked_full_sync() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let first = relation(store, a, "R1", "Bakker Installatie").await;
        let second = relation(store, a, "R2", "Jansen Techniek").await;
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let limited = DataSyncRequest {
            incremental_limit: Some(3),
            chunk_rows: Some(2),
            ..DataSyncRequest::default()
        };

        relation(store, a, "R3", "De Vries").await;
        relation(store, a, "R4", "Smit Service").await;
        store
            .update_record(a, &RELATIONS, first, rename("Bakker BV"))
            .await
            .unwrap();
        store.delete_record(a, &RELATIONS, second).await.unwrap();
        let burst = koppel_datasync::engine::run(store, a, &limited).await.unwrap();
        assert!(burst.full, "four changes are past a limit of three");
        assert_eq!(customers_at(store, a, 2).await, source_customers(store, a).await);

        store
            .update_record(a, &RELATIONS, first, rename("Bakker & Zn"))
            .await
            .unwrap();
        let calm = koppel_datasync::engine::run(store, a, &limited).await.unwrap();
        assert!(!calm.full, "one change is under the limit");
        assert_eq!(customers_at(store, a, 3).await, source_customers(store, a).await);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_sub_removes_its_reporting_copy_and_feed_tokens() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let (gone, kept) = (fixture.sub1, fixture.sub2);
        relation(store, gone, "R1", "Bakker Installatie").await;
        relation(store, kept, "R1", "Jansen Techniek").await;
        let synced = koppel_datasync::engine::run(store, gone, &incremental()).await.unwrap();
        koppel_datasync::engine::run(store, kept, &incremental()).await.unwrap();
        koppel_datasync::tokens::create(store, gone, "Power BI", Some(fixture.admin.id))
            .await
            .unwrap();
        assert_eq!(ids_at(store, gone, "Customers", synced.sync_no).await.len(), 1);

        store
            .delete_administration(gone, koppel_store::platform::Actor::SYSTEM)
            .await
            .unwrap();
        assert!(ids_at(store, gone, "Customers", synced.sync_no).await.is_empty());
        assert!(
            koppel_datasync::tokens::list(store, gone).await.unwrap().is_empty(),
            "its feed tokens go with it"
        );
        assert_eq!(
            koppel_datasync::state::read(store, gone).await.unwrap(),
            koppel_datasync::state::DataSyncState::default(),
            "its sync state goes with it"
        );
        let kept_state = koppel_datasync::state::read(store, kept).await.unwrap();
        assert_eq!(ids_at(store, kept, "Customers", kept_state.current_sync).await.len(), 1);
        db.cleanup().await;
    }
}

/// The Customers at a sync as (id, name), and the source's.
async fn customers_at(store: &Store, a: AdministrationId, sync: i64) -> Vec<(i64, Value)> {
    let set = koppel_datasync::feed::feed().set("Customers").unwrap();
    let name = set.columns.iter().position(|c| c.property == "Name").unwrap();
    rows_at(store, a, "Customers", sync, &[])
        .await
        .into_iter()
        .map(|row| (row[0].as_i64().unwrap(), row[name].clone()))
        .collect()
}

async fn source_customers(store: &Store, a: AdministrationId) -> Vec<(i64, Value)> {
    let query = koppel_store::records::ListQuery {
        limit: 1000,
        ..Default::default()
    };
    let name = RELATIONS.field_index("name");
    store
        .list_records(a, &RELATIONS, &query)
        .await
        .unwrap()
        .records
        .into_iter()
        .map(|record| (record.id.0, record.values[name].clone()))
        .collect()
}

fn rename(name: &str) -> Vec<Option<Value>> {
    let mut patch = vec![None; RELATIONS.fields.len()];
    patch[RELATIONS.field_index("name")] = Some(Value::Text(name.into()));
    patch
}

/// A full sync writes in chunks, each its own transaction: between them other writers get in (on
/// SQLite too, where one writer at a time holds the database), and what they change before the commit
/// is in the snapshot the sync commits. Readers see the previous sync until then.
#[tokio::test]
async fn a_full_sync_lets_writers_in_between_its_chunks_and_commits_exactly_the_source() {
    for db in TestDatabase::all().await {
        let store = db.store().clone();
        let fixture = Fixture::create(&store).await;
        let a = fixture.sub1;
        let mut ids = Vec::new();
        for n in 0..30 {
            ids.push(relation(&store, a, &format!("R{n:02}"), &format!("Relatie {n}")).await);
        }
        koppel_datasync::engine::run(&store, a, &incremental()).await.unwrap();
        let before = customers_at(&store, a, 1).await;
        assert_eq!(before, source_customers(&store, a).await);

        let writes_done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hook = {
            let (store, ids, writes_done) = (store.clone(), ids.clone(), writes_done.clone());
            ProgressHook(std::sync::Arc::new(move |progress: SyncProgress| {
                let (store, ids, writes_done) = (store.clone(), ids.clone(), writes_done.clone());
                Box::pin(async move {
                    // Customers come first, in chunks of 4 relations: after the third chunk, ids[0..12]
                    // are copied and the rest are not.
                    if progress.chunks != 3 {
                        return;
                    }
                    assert_eq!((progress.sets_done, progress.sets, progress.rows), (0, 15, 12));
                    let writes = async {
                        // A copied record and one still to come change; one of each is deleted; one is new.
                        store
                            .update_record(a, &RELATIONS, ids[1], rename("Gewijzigd 1"))
                            .await
                            .unwrap();
                        store
                            .update_record(a, &RELATIONS, ids[20], rename("Gewijzigd 20"))
                            .await
                            .unwrap();
                        store.delete_record(a, &RELATIONS, ids[2]).await.unwrap();
                        store.delete_record(a, &RELATIONS, ids[25]).await.unwrap();
                        relation(&store, a, "R-NEW", "Nieuw tijdens de sync").await;
                        // A copied record changes twice.
                        store
                            .update_record(a, &RELATIONS, ids[5], rename("Eerst"))
                            .await
                            .unwrap();
                        store
                            .update_record(a, &RELATIONS, ids[5], rename("Daarna"))
                            .await
                            .unwrap();
                    };
                    tokio::time::timeout(std::time::Duration::from_secs(5), writes)
                        .await
                        .expect("writers are not held up by a full sync");
                    // Readers still see sync 1 while sync 2 is being written.
                    assert_eq!(koppel_datasync::state::read(&store, a).await.unwrap().current_sync, 1);
                    writes_done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
            }))
        };
        let request = DataSyncRequest {
            full: true,
            chunk_rows: Some(4),
            progress: Some(hook),
            ..DataSyncRequest::default()
        };
        let outcome = koppel_datasync::engine::run(&store, a, &request).await.unwrap();
        assert_eq!(writes_done.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(outcome.full);
        assert_eq!(outcome.sync_no, 2);
        let mut snapshot = store.snapshot().await.unwrap();
        let position = snapshot.change_position(a).await.unwrap();
        snapshot.rollback().await.unwrap();
        assert_eq!(
            outcome.change_position, position,
            "the commit covers the writes made meanwhile"
        );

        let after = customers_at(&store, a, 2).await;
        assert_eq!(after, source_customers(&store, a).await);
        assert_eq!(after.len(), 29);
        assert!(after.contains(&(ids[5].0, Value::Text("Daarna".into()))));
        assert_eq!(
            customers_at(&store, a, 1).await,
            before,
            "sync 1 is unchanged for pinned readers"
        );
        let customers = outcome.tables.iter().find(|t| t.entity_set == "Customers").unwrap();
        // A full sync counts net: 30 versions replaced by 29 is 29 updated and 1 deleted.
        assert_eq!((customers.inserted, customers.updated, customers.deleted), (0, 29, 1));
        db.cleanup().await;
    }
}

/// A full resync that dies after some tables leaves invisible versions behind. The next sync, even an
/// incremental request, is a full one that replaces them, and converges to the source.
#[tokio::test]
async fn a_full_sync_that_died_part_way_is_replaced_by_the_next_sync() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let mut ids = Vec::new();
        for n in 0..10 {
            ids.push(relation(store, a, &format!("R{n}"), &format!("Relatie {n}")).await);
        }
        koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        let before = customers_at(store, a, 1).await;
        store
            .update_record(a, &RELATIONS, ids[3], rename("Nieuwe naam"))
            .await
            .unwrap();
        store.delete_record(a, &RELATIONS, ids[4]).await.unwrap();
        let interrupted = run_with_faults(
            store,
            a,
            &DataSyncRequest {
                full: true,
                chunk_rows: Some(3),
                ..DataSyncRequest::default()
            },
            &FailBefore(3),
        )
        .await;
        assert!(interrupted.is_err());
        assert_eq!(koppel_datasync::state::read(store, a).await.unwrap().current_sync, 1);
        assert_eq!(customers_at(store, a, 1).await, before, "the dead attempt is invisible");

        // Meanwhile the source moves on.
        store
            .update_record(a, &RELATIONS, ids[7], rename("Later gewijzigd"))
            .await
            .unwrap();
        let next = koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        assert!(next.full, "a sync after a dead full one is full");
        assert_eq!(next.sync_no, 2);
        assert_eq!(customers_at(store, a, 2).await, source_customers(store, a).await);
        assert_eq!(customers_at(store, a, 1).await, before);

        // And the sync after that is incremental again.
        store
            .update_record(a, &RELATIONS, ids[8], rename("Weer later"))
            .await
            .unwrap();
        let third = koppel_datasync::engine::run(store, a, &incremental()).await.unwrap();
        assert!(!third.full);
        assert_eq!(customers_at(store, a, 3).await, source_customers(store, a).await);
        db.cleanup().await;
    }
}
