//! References between daily-data records: same administration only, no deleting what is still used,
//! and children that go with their parent, leaving tombstones.

use crate::seed;
use crate::{assert_conflict, assert_invalid, assert_not_found};
use koppel_domain::RecordId;
use koppel_domain::resources::{
    ADDRESSES, CONTACT_PERSONS, MATERIALS, OBJECTS, RELATIONS, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS, WORK_ORDERS,
};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

#[tokio::test]
async fn references_must_point_into_the_same_administration() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let own = seed::relation(store, fixture.sub1, "D1").await;
        let foreign = seed::relation(store, fixture.sub2, "D2").await;

        assert_invalid(
            seed::try_create(
                store,
                fixture.sub1,
                &OBJECTS,
                json!({"code": "OB-1", "relation_id": foreign.id.0, "name": "Ketel"}),
            )
            .await,
            "relation_id",
            "not_found",
        );
        assert_invalid(
            seed::try_create(
                store,
                fixture.sub1,
                &OBJECTS,
                json!({"code": "OB-1", "relation_id": 999_999, "name": "Ketel"}),
            )
            .await,
            "relation_id",
            "not_found",
        );
        // Children too: an address of sub 1 cannot hang under a relation of sub 2.
        assert_invalid(
            seed::try_create(
                store,
                fixture.sub1,
                &ADDRESSES,
                json!({"relation_id": foreign.id.0, "kind": "visit", "street": "Markt", "house_number": "1",
                       "postal_code": "8011 AA", "city": "Zwolle", "country": "NL"}),
            )
            .await,
            "relation_id",
            "not_found",
        );

        let object = seed::create(
            store,
            fixture.sub1,
            &OBJECTS,
            json!({"code": "OB-1", "relation_id": own.id.0, "name": "Ketel"}),
        )
        .await;
        // Moving it to another administration's relation is refused as well.
        assert_invalid(
            seed::try_update(
                store,
                fixture.sub1,
                &OBJECTS,
                object.id,
                json!({"relation_id": foreign.id.0}),
            )
            .await,
            "relation_id",
            "not_found",
        );
        // Settings referred to by code must exist in the same administration.
        seed::hour_type(store, fixture.sub2, "NORMAAL").await;
        let order = seed::work_order(store, fixture.sub1, "WO-1", own.id, "Opgehaald").await;
        assert_invalid(
            seed::try_create(
                store,
                fixture.sub1,
                &WORK_ORDER_HOURS,
                json!({"work_order_id": order.id.0, "hour_type_code": "NORMAAL", "work_date": "2026-11-20",
                       "hours": "2", "rate": "65.00", "vat_rate": "21"}),
            )
            .await,
            "hour_type_code",
            "not_found",
        );
        assert_invalid(
            seed::try_update(
                store,
                fixture.sub1,
                &WORK_ORDERS,
                order.id,
                json!({"work_type_code": "ONBEKEND"}),
            )
            .await,
            "work_type_code",
            "not_found",
        );
        assert_eq!(
            store.get_record(fixture.sub1, &OBJECTS, object.id).await.expect("get"),
            object
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_record_that_is_still_referenced_cannot_be_deleted() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let relation = seed::relation(store, a, "D1").await;
        let object = seed::create(
            store,
            a,
            &OBJECTS,
            json!({"code": "OB-1", "relation_id": relation.id.0, "name": "Ketel"}),
        )
        .await;
        assert_conflict(
            store.delete_record(a, &RELATIONS, relation.id).await,
            "still_referenced",
        );
        assert!(store.get_record(a, &RELATIONS, relation.id).await.is_ok());

        // A material used on a work-order line stays until the line (or its work order) goes.
        let material = seed::material(store, a, "M1", "4.99").await;
        let order = seed::work_order(store, a, "WO-1", relation.id, "Opgehaald").await;
        seed::create(
            store,
            a,
            &WORK_ORDER_MATERIALS,
            json!({"work_order_id": order.id.0, "material_id": material.id.0, "quantity": "2", "price": "4.99",
                   "vat_rate": "21"}),
        )
        .await;
        assert_conflict(
            store.delete_record(a, &MATERIALS, material.id).await,
            "still_referenced",
        );
        store
            .delete_record(a, &WORK_ORDERS, order.id)
            .await
            .expect("delete order and its lines");
        store
            .delete_record(a, &MATERIALS, material.id)
            .await
            .expect("material is free now");

        store
            .delete_record(a, &OBJECTS, object.id)
            .await
            .expect("delete object");
        store
            .delete_record(a, &RELATIONS, relation.id)
            .await
            .expect("relation is free now");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn children_are_deleted_with_their_parent_and_leave_tombstones() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let relation = seed::relation(store, a, "D1").await;
        let other_relation = seed::relation(store, a, "D2").await;
        let mut addresses = Vec::new();
        for (kind, city) in [("visit", "Utrecht"), ("invoice", "Amersfoort")] {
            addresses.push(
                seed::create(
                    store,
                    a,
                    &ADDRESSES,
                    json!({"relation_id": relation.id.0, "kind": kind, "street": "Oudegracht", "house_number": "1",
                           "postal_code": "3511 AA", "city": city, "country": "NL"}),
                )
                .await,
            );
        }
        let contact = seed::create(
            store,
            a,
            &CONTACT_PERSONS,
            json!({"relation_id": relation.id.0, "name": "Jan"}),
        )
        .await;
        let kept_address = seed::create(
            store,
            a,
            &ADDRESSES,
            json!({"relation_id": other_relation.id.0, "kind": "visit", "street": "Markt", "house_number": "2",
                   "postal_code": "3511 AB", "city": "Utrecht", "country": "NL"}),
        )
        .await;
        seed::hour_type(store, a, "NORMAAL").await;
        let order = seed::work_order(store, a, "WO-1", other_relation.id, "Opgehaald").await;
        let mut hour_lines = Vec::new();
        for hours in ["1", "2.5"] {
            hour_lines.push(
                seed::create(
                    store,
                    a,
                    &WORK_ORDER_HOURS,
                    json!({"work_order_id": order.id.0, "hour_type_code": "NORMAAL", "work_date": "2026-11-20",
                           "hours": hours, "rate": "65.00", "vat_rate": "21"}),
                )
                .await,
            );
        }

        let mut snapshot = store.snapshot().await.expect("snapshot");
        let before = snapshot.change_position(a).await.expect("position");
        snapshot.rollback().await.expect("end");

        store
            .delete_record(a, &RELATIONS, relation.id)
            .await
            .expect("delete relation");
        store
            .delete_record(a, &WORK_ORDERS, order.id)
            .await
            .expect("delete work order");
        for address in &addresses {
            assert_not_found(store.get_record(a, &ADDRESSES, address.id).await);
        }
        assert_not_found(store.get_record(a, &CONTACT_PERSONS, contact.id).await);
        for line in &hour_lines {
            assert_not_found(store.get_record(a, &WORK_ORDER_HOURS, line.id).await);
        }
        assert_eq!(
            store
                .get_record(a, &ADDRESSES, kept_address.id)
                .await
                .expect("other relation's address"),
            kept_address
        );

        let mut snapshot = store.snapshot().await.expect("snapshot");
        let after = snapshot.change_position(a).await.expect("position");
        assert_eq!(after, before + 2, "one position per delete, cascade included");
        let tombstones = |deleted: Vec<koppel_store::changes::Deletion>| -> Vec<(RecordId, i64)> {
            deleted.into_iter().map(|d| (d.id, d.change_seq)).collect()
        };
        assert_eq!(
            tombstones(
                snapshot
                    .deleted_records(a, &RELATIONS, before)
                    .await
                    .expect("tombstones")
            ),
            vec![(relation.id, before + 1)]
        );
        assert_eq!(
            tombstones(
                snapshot
                    .deleted_records(a, &ADDRESSES, before)
                    .await
                    .expect("tombstones")
            ),
            addresses.iter().map(|r| (r.id, before + 1)).collect::<Vec<_>>()
        );
        assert_eq!(
            tombstones(
                snapshot
                    .deleted_records(a, &CONTACT_PERSONS, before)
                    .await
                    .expect("tombstones")
            ),
            vec![(contact.id, before + 1)]
        );
        assert_eq!(
            tombstones(
                snapshot
                    .deleted_records(a, &WORK_ORDERS, before)
                    .await
                    .expect("tombstones")
            ),
            vec![(order.id, before + 2)]
        );
        assert_eq!(
            tombstones(
                snapshot
                    .deleted_records(a, &WORK_ORDER_HOURS, before)
                    .await
                    .expect("tombstones")
            ),
            hour_lines.iter().map(|r| (r.id, before + 2)).collect::<Vec<_>>()
        );
        snapshot.rollback().await.expect("end");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_parent_whose_child_is_used_elsewhere_is_not_deleted() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let landlord = seed::relation(store, a, "D1").await;
        let tenant = seed::relation(store, a, "D2").await;
        let address = seed::create(
            store,
            a,
            &ADDRESSES,
            json!({"relation_id": landlord.id.0, "kind": "visit", "street": "Markt", "house_number": "2",
                   "postal_code": "3511 AB", "city": "Utrecht", "country": "NL"}),
        )
        .await;
        // The tenant's boiler stands at the landlord's address.
        seed::create(
            store,
            a,
            &OBJECTS,
            json!({"code": "OB-1", "relation_id": tenant.id.0, "name": "Ketel", "address_id": address.id.0}),
        )
        .await;
        assert_conflict(
            store.delete_record(a, &RELATIONS, landlord.id).await,
            "still_referenced",
        );
        assert_eq!(
            store.get_record(a, &ADDRESSES, address.id).await.expect("address kept"),
            address
        );
        assert!(store.get_record(a, &RELATIONS, landlord.id).await.is_ok());
        db.cleanup().await;
    }
}
