//! Settings items refer to each other by code: references are checked on write and block deletes.

use crate::seed;
use crate::{assert_conflict, assert_invalid};
use koppel_domain::resources::{FORMS, HOUR_TYPES, WORK_TYPES, WORKFLOWS};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

fn form(code: &str) -> serde_json::Value {
    json!({"code": code, "name": format!("Formulier {code}"),
           "fields": [{"key": "opmerking", "label": "Opmerking", "type": "text"}]})
}

fn work_type(code: &str) -> serde_json::Value {
    json!({"code": code, "name": format!("Werksoort {code}")})
}

fn workflow(code: &str, form_code: &str, work_type_codes: &[&str]) -> serde_json::Value {
    json!({"code": code, "name": "Onderhoud",
           "steps": [{"name": "Aankomst"}, {"name": "Controle", "form_code": form_code}],
           "work_type_codes": work_type_codes})
}

#[tokio::test]
async fn workflow_references_are_checked_on_write() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        seed::create(store, a, &FORMS, form("F-CV")).await;
        seed::create(store, a, &WORK_TYPES, work_type("ONDERHOUD")).await;
        // The main has a form the sub lacks: references stay inside the administration.
        seed::create(store, fixture.main, &FORMS, form("F-MAIN")).await;

        assert_invalid(
            seed::try_create(store, a, &WORKFLOWS, workflow("WF-1", "F-ONBEKEND", &["ONDERHOUD"])).await,
            "steps",
            "not_found",
        );
        assert_invalid(
            seed::try_create(store, a, &WORKFLOWS, workflow("WF-1", "F-MAIN", &["ONDERHOUD"])).await,
            "steps",
            "not_found",
        );
        assert_invalid(
            seed::try_create(
                store,
                a,
                &WORKFLOWS,
                workflow("WF-1", "F-CV", &["ONDERHOUD", "STORING"]),
            )
            .await,
            "work_type_codes",
            "not_found",
        );
        let created = seed::create(store, a, &WORKFLOWS, workflow("WF-1", "F-CV", &["ONDERHOUD"])).await;
        assert_invalid(
            seed::try_update(
                store,
                a,
                &WORKFLOWS,
                created.id,
                json!({"work_type_codes": ["STORING"]}),
            )
            .await,
            "work_type_codes",
            "not_found",
        );
        seed::create(store, a, &WORK_TYPES, work_type("STORING")).await;
        let updated = seed::update(
            store,
            a,
            &WORKFLOWS,
            created.id,
            json!({"work_type_codes": ["STORING", "ONDERHOUD"]}),
        )
        .await;
        // Code lists are stored normalised (sorted, without duplicates).
        assert_eq!(
            seed::text(&updated, &WORKFLOWS, "work_type_codes"),
            r#"["ONDERHOUD","STORING"]"#
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn referenced_settings_cannot_be_deleted() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let cv_form = seed::create(store, a, &FORMS, form("F-CV")).await;
        let onderhoud = seed::create(store, a, &WORK_TYPES, work_type("ONDERHOUD")).await;
        let storing = seed::create(store, a, &WORK_TYPES, work_type("STORING")).await;
        let flow = seed::create(store, a, &WORKFLOWS, workflow("WF-1", "F-CV", &["ONDERHOUD"])).await;

        assert_conflict(store.delete_record(a, &FORMS, cv_form.id).await, "still_referenced");
        assert_conflict(
            store.delete_record(a, &WORK_TYPES, onderhoud.id).await,
            "still_referenced",
        );

        // Daily data refers to settings by code as well: a work order's work type.
        let relation = seed::relation(store, a, "D1").await;
        let order = seed::work_order(store, a, "WO-1", relation.id, "Klaargezet").await;
        seed::update(
            store,
            a,
            &koppel_domain::resources::WORK_ORDERS,
            order.id,
            json!({"work_type_code": "STORING"}),
        )
        .await;
        assert_conflict(
            store.delete_record(a, &WORK_TYPES, storing.id).await,
            "still_referenced",
        );

        // An hour line's hour type.
        let hours = seed::hour_type(store, a, "NORMAAL").await;
        seed::create(
            store,
            a,
            &koppel_domain::resources::WORK_ORDER_HOURS,
            json!({"work_order_id": order.id.0, "hour_type_code": "NORMAAL", "work_date": "2026-11-20",
                   "hours": "1", "rate": "65.00", "vat_rate": "21"}),
        )
        .await;
        assert_conflict(store.delete_record(a, &HOUR_TYPES, hours.id).await, "still_referenced");

        // Same codes in another administration do not count.
        seed::create(store, fixture.sub2, &FORMS, form("F-CV")).await;
        let other_form = seed::create(store, fixture.sub2, &FORMS, form("F-VRIJ")).await;
        store
            .delete_record(fixture.sub2, &FORMS, other_form.id)
            .await
            .expect("unused form");

        store
            .delete_record(a, &WORKFLOWS, flow.id)
            .await
            .expect("delete workflow");
        store
            .delete_record(a, &FORMS, cv_form.id)
            .await
            .expect("form is free now");
        store
            .delete_record(a, &WORK_TYPES, onderhoud.id)
            .await
            .expect("work type is free now");
        db.cleanup().await;
    }
}
