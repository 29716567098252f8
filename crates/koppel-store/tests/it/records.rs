//! Create, read, update, delete and list for daily data, with paging, filters and unique codes.

use crate::seed::{self, text};
use crate::{assert_conflict, assert_invalid, assert_not_found, start_time};
use koppel_domain::record::{Value, parse_create};
use koppel_domain::resources::{EMPLOYEES, INVOICES, MATERIALS, OBJECTS, PROJECTS, RELATIONS, WORK_ORDERS};
use koppel_domain::{Money, RecordId};
use koppel_store::records::ListQuery;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn records_are_created_read_updated_and_deleted() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let created = seed::create(
            store,
            fixture.sub1,
            &MATERIALS,
            json!({"code": "CV-100", "description": "Expansievat 18 l", "unit": "stuk", "price": "1234.56",
                   "vat_rate": "21"}),
        )
        .await;
        assert_eq!(created.created_at, start_time());
        assert_eq!(created.modified_at, start_time());
        assert_eq!(
            seed::integer(&created, &MATERIALS, "price"),
            123_456,
            "money is exact cents"
        );
        assert!(created.get(&MATERIALS, "cost_price").is_null());

        let read = store
            .get_record(fixture.sub1, &MATERIALS, created.id)
            .await
            .expect("get");
        assert_eq!(read, created);

        db.fixed_clock().advance(chrono::Duration::minutes(5));
        let updated = seed::update(
            store,
            fixture.sub1,
            &MATERIALS,
            created.id,
            json!({"price": "0.10", "cost_price": "0.05"}),
        )
        .await;
        assert_eq!(
            Money::from_cents(seed::integer(&updated, &MATERIALS, "price")).to_string(),
            "0.10"
        );
        assert_eq!(
            text(&updated, &MATERIALS, "description"),
            "Expansievat 18 l",
            "untouched"
        );
        assert_eq!(updated.created_at, start_time());
        assert_eq!(updated.modified_at, start_time() + chrono::Duration::minutes(5));
        assert!(updated.change_seq > created.change_seq);

        // An update that changes nothing writes nothing.
        db.fixed_clock().advance(chrono::Duration::minutes(5));
        let unchanged = seed::update(store, fixture.sub1, &MATERIALS, created.id, json!({"price": "0.1"})).await;
        assert_eq!(unchanged, updated);

        store
            .delete_record(fixture.sub1, &MATERIALS, created.id)
            .await
            .expect("delete");
        assert_not_found(store.get_record(fixture.sub1, &MATERIALS, created.id).await);
        assert_not_found(store.delete_record(fixture.sub1, &MATERIALS, created.id).await);
        assert_not_found(
            store
                .update_record(fixture.sub1, &MATERIALS, created.id, seed::patch(&MATERIALS, json!({})))
                .await,
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn records_of_one_administration_are_invisible_in_another() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let relation = seed::relation(store, fixture.sub1, "D1").await;
        assert_not_found(store.get_record(fixture.sub2, &RELATIONS, relation.id).await);
        assert_not_found(
            seed::try_update(
                store,
                fixture.sub2,
                &RELATIONS,
                relation.id,
                json!({"name": "Overgenomen"}),
            )
            .await,
        );
        assert_not_found(store.delete_record(fixture.sub2, &RELATIONS, relation.id).await);
        let page = store
            .list_records(
                fixture.sub2,
                &RELATIONS,
                &ListQuery {
                    limit: 100,
                    ..ListQuery::default()
                },
            )
            .await
            .expect("list");
        assert!(page.records.is_empty());
        assert_eq!(
            store
                .get_record(fixture.sub1, &RELATIONS, relation.id)
                .await
                .expect("still there"),
            relation
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn lists_page_with_a_cursor_in_id_order() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let mut created = Vec::new();
        for number in 0..25 {
            created.push(seed::relation(store, fixture.sub1, &format!("D{number:03}")).await.id);
        }
        // Noise in another administration must not appear.
        seed::relation(store, fixture.sub2, "D000").await;

        let mut seen = Vec::new();
        let mut page_sizes = Vec::new();
        let mut after = None;
        loop {
            let query = ListQuery {
                after,
                limit: 10,
                ..ListQuery::default()
            };
            let page = store
                .list_records(fixture.sub1, &RELATIONS, &query)
                .await
                .expect("list");
            page_sizes.push(page.records.len());
            seen.extend(page.records.iter().map(|r| r.id));
            match page.next_after {
                Some(next) => {
                    assert_eq!(Some(next), page.records.last().map(|r| r.id.0));
                    after = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(page_sizes, vec![10, 10, 5], "{}", db.backend().name());
        assert_eq!(seen, created, "every record once, in id order");

        // A page that ends exactly at the last record says there is no next page.
        let exact = store
            .list_records(
                fixture.sub1,
                &RELATIONS,
                &ListQuery {
                    limit: 25,
                    ..ListQuery::default()
                },
            )
            .await
            .expect("list");
        assert_eq!(exact.records.len(), 25);
        assert_eq!(exact.next_after, None);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn lists_filter_on_modification_time() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let early: BTreeSet<RecordId> = [
            seed::relation(store, fixture.sub1, "E1").await.id,
            seed::relation(store, fixture.sub1, "E2").await.id,
        ]
        .into();
        let later_time = start_time() + chrono::Duration::milliseconds(1500);
        db.fixed_clock().set(later_time);
        let late = seed::relation(store, fixture.sub1, "L1").await.id;
        // Touching an early record makes it modified later too.
        db.fixed_clock().set(later_time + chrono::Duration::microseconds(1));
        let touched = seed::update(
            store,
            fixture.sub1,
            &RELATIONS,
            *early.first().unwrap(),
            json!({"name": "Nieuw"}),
        )
        .await
        .id;

        let ids = |records: Vec<koppel_store::records::StoredRecord>| -> BTreeSet<RecordId> {
            records.into_iter().map(|r| r.id).collect()
        };
        let since = store
            .list_records(
                fixture.sub1,
                &RELATIONS,
                &ListQuery {
                    limit: 100,
                    modified_since: Some(later_time),
                    ..ListQuery::default()
                },
            )
            .await
            .expect("list");
        assert_eq!(ids(since.records), [late, touched].into(), "{}", db.backend().name());

        let before = store
            .list_records(
                fixture.sub1,
                &RELATIONS,
                &ListQuery {
                    limit: 100,
                    modified_before: Some(later_time),
                    ..ListQuery::default()
                },
            )
            .await
            .expect("list");
        let untouched: BTreeSet<RecordId> = early.iter().copied().filter(|id| *id != touched).collect();
        assert_eq!(ids(before.records), untouched);

        let window = store
            .list_records(
                fixture.sub1,
                &RELATIONS,
                &ListQuery {
                    limit: 100,
                    modified_since: Some(later_time),
                    modified_before: Some(later_time + chrono::Duration::microseconds(1)),
                    ..ListQuery::default()
                },
            )
            .await
            .expect("list");
        assert_eq!(ids(window.records), [late].into());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn lists_filter_on_equality() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let company = seed::relation(store, a, "C1").await;
        let person = seed::create(
            store,
            a,
            &RELATIONS,
            json!({"code": "P1", "name": "Mevrouw Jansen", "kind": "person", "blocked": true}),
        )
        .await;
        for (code, relation) in [("OB-1", &company), ("OB-2", &company), ("OB-3", &person)] {
            seed::create(
                store,
                a,
                &OBJECTS,
                json!({"code": code, "relation_id": relation.id.0, "name": "Ketel"}),
            )
            .await;
        }
        let filtered = |field: &str, value: Value| ListQuery {
            limit: 100,
            filters: vec![(RELATIONS.field_index(field), value)],
            ..ListQuery::default()
        };
        let people = store
            .list_records(a, &RELATIONS, &filtered("kind", Value::Text("person".into())))
            .await
            .expect("list");
        assert_eq!(people.records, vec![person.clone()], "{}", db.backend().name());
        let blocked = store
            .list_records(a, &RELATIONS, &filtered("blocked", Value::Bool(true)))
            .await
            .expect("list");
        assert_eq!(blocked.records, vec![person.clone()]);
        let by_code = store
            .list_records(a, &RELATIONS, &filtered("code", Value::Text("C1".into())))
            .await
            .expect("list");
        assert_eq!(by_code.records, vec![company.clone()]);

        let of_company = ListQuery {
            limit: 100,
            filters: vec![(OBJECTS.field_index("relation_id"), Value::Integer(company.id.0))],
            ..ListQuery::default()
        };
        let objects = store.list_records(a, &OBJECTS, &of_company).await.expect("list");
        let codes: Vec<&str> = objects.records.iter().map(|r| text(r, &OBJECTS, "code")).collect();
        assert_eq!(codes, vec!["OB-1", "OB-2"]);

        // Several filters combine with AND.
        let none = ListQuery {
            limit: 100,
            filters: vec![
                (RELATIONS.field_index("kind"), Value::Text("person".into())),
                (RELATIONS.field_index("code"), Value::Text("C1".into())),
            ],
            ..ListQuery::default()
        };
        assert!(
            store
                .list_records(a, &RELATIONS, &none)
                .await
                .expect("list")
                .records
                .is_empty()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unique_codes_conflict_within_an_administration_only() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let first = seed::relation(store, fixture.sub1, "D1000").await;
        assert_conflict(
            seed::try_create(
                store,
                fixture.sub1,
                &RELATIONS,
                json!({"code": "D1000", "name": "Dubbel", "kind": "company"}),
            )
            .await,
            "already_exists",
        );
        // The same code is free in another administration.
        seed::relation(store, fixture.sub2, "D1000").await;

        // Renaming onto a taken code conflicts too, and leaves both records as they were.
        let second = seed::relation(store, fixture.sub1, "D2000").await;
        assert_conflict(
            seed::try_update(store, fixture.sub1, &RELATIONS, second.id, json!({"code": "D1000"})).await,
            "already_exists",
        );
        assert_eq!(
            store
                .get_record(fixture.sub1, &RELATIONS, second.id)
                .await
                .expect("get"),
            second
        );
        assert_eq!(
            store.get_record(fixture.sub1, &RELATIONS, first.id).await.expect("get"),
            first
        );

        // Work-order numbers are unique the same way.
        seed::work_order(store, fixture.sub1, "WO-1", first.id, "Klaargezet").await;
        assert_conflict(
            seed::try_create(
                store,
                fixture.sub1,
                &WORK_ORDERS,
                json!({"number": "WO-1", "relation_id": first.id.0, "description": "Dubbel", "status": "Klaargezet"}),
            )
            .await,
            "already_exists",
        );
        // The store still works after a failed write (the PostgreSQL transaction was rolled back).
        seed::relation(store, fixture.sub1, "D3000").await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn rules_across_fields_and_required_values_are_enforced() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let relation = seed::relation(store, fixture.sub1, "D1").await;
        assert_invalid(
            seed::try_create(
                store,
                fixture.sub1,
                &PROJECTS,
                json!({"code": "P1", "relation_id": relation.id.0, "name": "Verbouw", "status": "open",
                       "start_date": "2026-06-01", "end_date": "2026-05-01"}),
            )
            .await,
            "end_date",
            "invalid",
        );
        // Values that skip the domain's parsing are still checked for required fields.
        let mut values = seed::values(&EMPLOYEES, json!({"code": "E1", "name": "Piet", "active": true}));
        values[EMPLOYEES.field_index("name")] = Value::Null;
        assert_invalid(
            store.create_record(fixture.sub1, &EMPLOYEES, values).await,
            "name",
            "required",
        );
        // Invoices are made by invoicing, not created directly (their totals are Koppel's).
        let invoice_values = parse_create(&INVOICES, &json!({"due_date": "2026-12-01"})).expect("parse");
        assert_conflict(
            store.create_record(fixture.sub1, &INVOICES, invoice_values).await,
            "not_creatable",
        );
        db.cleanup().await;
    }
}
