//! Change tracking under concurrent writers: no change is ever skipped by a consumer that reads
//! "changes since my last position", on either backend.
//!
//! The classic failure: T1 takes position 5, T2 takes 6 and commits first, a reader sees 6 and moves
//! its cursor past 5; when T1 commits, its rows are never read. The store prevents it by handing out
//! positions in commit order (a locked counter row on PostgreSQL, serialised writers on SQLite).

use crate::changes::{ChangeSet, changes_since};
use crate::seed;
use koppel_domain::RecordId;
use koppel_domain::resources::RELATIONS;
use koppel_store::records::{ListQuery, StoredRecord};
use koppel_store::{Backend, Store};
use koppel_test_support::{Fixture, TestDatabase};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// How long to watch a blocked writer to be satisfied that it is blocked. This is not
/// synchronisation: the test is correct for any value; a longer one only makes a bug likelier to show.
const STILL_BLOCKED: Duration = Duration::from_millis(300);

fn relation_body(code: &str) -> serde_json::Value {
    json!({"code": code, "name": format!("Klant {code}"), "kind": "company"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_writer_holds_back_later_writers_and_readers_skip_nothing() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let backend = db.backend().name();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let doomed = seed::relation(store, a, "WEG").await;
        let consumed = changes_since(store, a, &RELATIONS, 0).await.position;

        // T1 takes its position and writes, but does not commit yet.
        let mut t1 = store.write(a).await.expect("T1 starts");
        let t1_position = t1.change_seq;
        assert_eq!(t1_position, consumed + 1);
        let t1_created = t1
            .insert(&RELATIONS, seed::values(&RELATIONS, relation_body("T1")))
            .await
            .expect("T1 inserts");
        t1.delete(&RELATIONS, doomed.id).await.expect("T1 deletes");

        // T2 starts concurrently. It must not get a position (let alone commit) while T1 is open.
        let (position_sender, mut position_receiver) = tokio::sync::oneshot::channel();
        let t2 = tokio::spawn({
            let store = store.clone();
            async move {
                let mut t2 = store.write(a).await.expect("T2 starts");
                position_sender.send(t2.change_seq).expect("test is listening");
                let created = t2
                    .insert(&RELATIONS, seed::values(&RELATIONS, relation_body("T2")))
                    .await
                    .expect("T2 inserts");
                t2.commit().await.expect("T2 commits");
                created
            }
        });
        let early = tokio::time::timeout(STILL_BLOCKED, &mut position_receiver).await;
        assert!(early.is_err(), "T2 got a position while T1 was open on {backend}");

        // A reader now sees the state before T1: a lower position and none of T1's changes.
        let during = changes_since(store, a, &RELATIONS, consumed).await;
        assert!(during.position < t1_position, "{backend}: {during:?}");
        assert_eq!(during.position, consumed);
        assert!(during.changed.is_empty(), "{backend}: saw uncommitted rows {during:?}");
        assert!(
            during.deleted.is_empty(),
            "{backend}: saw an uncommitted delete {during:?}"
        );
        assert!(store.get_record(a, &RELATIONS, doomed.id).await.is_ok());

        // Writers of another administration are not held up on PostgreSQL (SQLite has one writer at a
        // time for the whole file, so there it would wait for T1 like everyone else).
        if db.backend() == Backend::Postgres {
            let elsewhere = tokio::time::timeout(
                Duration::from_secs(10),
                seed::try_create(store, fixture.sub2, &RELATIONS, relation_body("ELDERS")),
            )
            .await;
            assert!(matches!(elsewhere, Ok(Ok(_))), "sub 2 waited for sub 1: {elsewhere:?}");
        }

        t1.commit().await.expect("T1 commits");
        let t2_position = position_receiver.await.expect("T2 got a position");
        let t2_created = t2.await.expect("T2 task");
        assert_eq!(t2_position, t1_position + 1, "{backend}");
        assert_eq!(t2_created.change_seq, t2_position);
        assert!(
            t2_created.modified_at >= t1_created.modified_at,
            "{backend}: T2's rows look older than T1's"
        );

        // The next reader, continuing from what it had consumed, gets both transactions.
        let after = changes_since(store, a, &RELATIONS, during.position).await;
        assert_eq!(after.position, t2_position, "{backend}");
        assert_eq!(after.changed, vec![t1_created, t2_created], "{backend}");
        assert_eq!(after.deleted.len(), 1);
        assert_eq!(
            (after.deleted[0].id, after.deleted[0].change_seq),
            (doomed.id, t1_position)
        );
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_rolls_back_lets_the_next_one_through_without_a_gap() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let backend = db.backend().name();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let consumed = changes_since(store, a, &RELATIONS, 0).await.position;

        let mut t1 = store.write(a).await.expect("T1 starts");
        t1.insert(&RELATIONS, seed::values(&RELATIONS, relation_body("T1")))
            .await
            .expect("T1 inserts");
        let t2 = tokio::spawn({
            let store = store.clone();
            async move {
                seed::try_create(&store, a, &RELATIONS, relation_body("T2"))
                    .await
                    .expect("T2")
            }
        });
        let during = changes_since(store, a, &RELATIONS, consumed).await;
        assert_eq!(during.position, consumed, "{backend}");
        assert!(during.changed.is_empty());

        t1.rollback().await.expect("T1 rolls back");
        let t2_created = t2.await.expect("T2 task");
        // T2 reuses the position T1 gave back: no reader ever saw that position, so none skips it.
        assert_eq!(t2_created.change_seq, consumed + 1, "{backend}");
        let after = changes_since(store, a, &RELATIONS, during.position).await;
        assert_eq!(after.changed, vec![t2_created]);
        db.cleanup().await;
    }
}

/// What one writer task committed, for checking the consumer afterwards.
#[derive(Debug, Clone, Copy)]
enum Committed {
    Upserted { id: RecordId, position: i64 },
    Deleted { id: RecordId, position: i64 },
}

const WRITERS: u64 = 4;
const WRITES_PER_WRITER: u64 = 30;

/// One writer: a random mix of creates, updates, deletes, multi-record transactions and rollbacks
/// on its own relations.
async fn random_writer(
    store: Store,
    administration: koppel_domain::AdministrationId,
    seed: u64,
    writer: u64,
) -> Vec<Committed> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(writer));
    let mut live: Vec<RecordId> = Vec::new();
    let mut committed = Vec::new();
    for step in 0..WRITES_PER_WRITER {
        let code = format!("W{writer}-{step}");
        let roll = rng.random_range(0..100);
        let mut write = store.write(administration).await.expect("write");
        let position = write.change_seq;
        let mut changes = Vec::new();
        if roll < 40 || live.is_empty() {
            let record = write
                .insert(&RELATIONS, seed::values(&RELATIONS, relation_body(&code)))
                .await
                .expect("insert");
            changes.push(Committed::Upserted {
                id: record.id,
                position,
            });
        } else if roll < 70 {
            let id = live[rng.random_range(0..live.len())];
            // A name no other write used, so the update really changes the record.
            let name = format!("Naam {code}");
            write
                .update(&RELATIONS, id, seed::patch(&RELATIONS, json!({ "name": name })))
                .await
                .expect("update");
            changes.push(Committed::Upserted { id, position });
        } else if roll < 85 {
            let id = live.swap_remove(rng.random_range(0..live.len()));
            write.delete(&RELATIONS, id).await.expect("delete");
            changes.push(Committed::Deleted { id, position });
        } else {
            // Several rows at one position: two inserts and an update.
            for suffix in ["a", "b"] {
                let record = write
                    .insert(
                        &RELATIONS,
                        seed::values(&RELATIONS, relation_body(&format!("{code}{suffix}"))),
                    )
                    .await
                    .expect("insert");
                changes.push(Committed::Upserted {
                    id: record.id,
                    position,
                });
            }
            let id = live[rng.random_range(0..live.len())];
            write
                .update(&RELATIONS, id, seed::patch(&RELATIONS, json!({ "notes": code })))
                .await
                .expect("update");
            changes.push(Committed::Upserted { id, position });
        }
        if rng.random_range(0..100) < 8 {
            write.rollback().await.expect("rollback");
            // A rolled-back delete gives the record back.
            for change in changes {
                if let Committed::Deleted { id, .. } = change {
                    live.push(id);
                }
            }
        } else {
            write.commit().await.expect("commit");
            for change in &changes {
                if let Committed::Upserted { id, .. } = change
                    && !live.contains(id)
                {
                    live.push(*id);
                }
            }
            committed.extend(changes);
        }
        tokio::task::yield_now().await;
    }
    committed
}

/// What the consumer has built up from the change feed.
#[derive(Default)]
struct Mirror {
    records: BTreeMap<RecordId, StoredRecord>,
    versions_seen: HashMap<RecordId, BTreeSet<i64>>,
    deletions_seen: HashMap<RecordId, i64>,
    passes: usize,
}

impl Mirror {
    fn apply(&mut self, after: i64, batch: ChangeSet, backend: &str) {
        assert!(batch.position >= after, "{backend}: the position went backwards");
        for record in batch.changed {
            assert!(
                record.change_seq > after && record.change_seq <= batch.position,
                "{backend}: row at {} outside ({after}, {}]",
                record.change_seq,
                batch.position
            );
            self.versions_seen
                .entry(record.id)
                .or_default()
                .insert(record.change_seq);
            self.records.insert(record.id, record);
        }
        for deletion in batch.deleted {
            assert!(deletion.change_seq > after && deletion.change_seq <= batch.position);
            self.deletions_seen.insert(deletion.id, deletion.change_seq);
            self.records.remove(&deletion.id);
        }
        self.passes += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_following_concurrent_writers_misses_nothing() {
    let seed: u64 = match std::env::var("KOPPEL_TEST_SEED") {
        Ok(text) => text.parse().expect("KOPPEL_TEST_SEED is a number"),
        Err(_) => rand::random(),
    };
    // Shown when the test fails; rerun with KOPPEL_TEST_SEED to repeat the same writes.
    eprintln!("KOPPEL_TEST_SEED={seed}");
    for db in TestDatabase::all().await {
        let store = db.store();
        let backend = db.backend().name();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;

        let mut writers: Vec<_> = (0..WRITERS)
            .map(|writer| tokio::spawn(random_writer(store.clone(), a, seed, writer)))
            .collect();
        // Noise in another administration, which must never reach this feed.
        writers.push(tokio::spawn(random_writer(store.clone(), fixture.sub2, seed, 99)));

        let mut mirror = Mirror::default();
        let mut consumed = 0;
        loop {
            // Decide before reading: a pass that starts after every writer is done is the last one.
            let finished = writers.iter().all(|writer| writer.is_finished());
            let batch = changes_since(store, a, &RELATIONS, consumed).await;
            let position = batch.position;
            mirror.apply(consumed, batch, backend);
            consumed = position;
            // Tombstones up to here are taken in; a real consumer lets them go.
            store.prune_tombstones(a, consumed).await.expect("prune");
            if finished {
                break;
            }
        }
        let mut committed = Vec::new();
        for (index, writer) in writers.into_iter().enumerate() {
            let changes = writer.await.expect("writer");
            if index < WRITERS as usize {
                committed.extend(changes);
            }
        }

        // The mirror is exactly the final state.
        let mut final_state = BTreeMap::new();
        let mut after = None;
        loop {
            let query = ListQuery {
                after,
                limit: 100,
                ..ListQuery::default()
            };
            let page = store.list_records(a, &RELATIONS, &query).await.expect("list");
            final_state.extend(page.records.into_iter().map(|record| (record.id, record)));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert!(!final_state.is_empty());
        assert!(
            mirror.records == final_state,
            "{backend} (seed {seed}): the mirror differs from the final state: {} vs {} rows",
            mirror.records.len(),
            final_state.len()
        );

        // And no committed change was skipped along the way: every write was seen, or a later one of
        // the same record was.
        for change in committed {
            match change {
                Committed::Upserted { id, position } => {
                    let seen_later_version = mirror
                        .versions_seen
                        .get(&id)
                        .is_some_and(|versions| versions.range(position..).next().is_some());
                    let seen_later_delete = mirror.deletions_seen.get(&id).is_some_and(|d| *d >= position);
                    assert!(
                        seen_later_version || seen_later_delete,
                        "{backend} (seed {seed}): the write of {id} at position {position} was skipped"
                    );
                }
                Committed::Deleted { id, position } => {
                    assert_eq!(
                        mirror.deletions_seen.get(&id),
                        Some(&position),
                        "{backend} (seed {seed}): the delete of {id} was skipped"
                    );
                }
            }
        }
        // Positions and modification times agree on the order of changes.
        let mut by_position: Vec<&StoredRecord> = final_state.values().collect();
        by_position.sort_by_key(|record| record.change_seq);
        assert!(
            by_position
                .windows(2)
                .all(|pair| pair[0].modified_at <= pair[1].modified_at),
            "{backend}: modified_at does not follow the change positions"
        );
        assert!(final_state.values().all(|record| record.administration == a));
        eprintln!(
            "{backend}: {} consumer passes, final position {consumed}",
            mirror.passes
        );
        db.cleanup().await;
    }
}
