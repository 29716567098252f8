//! The work-order life cycle in the store: only valid transitions, and `completed_at` kept by Koppel.

use crate::seed::{self, text};
use crate::{assert_invalid, start_time};
use chrono::Duration;
use koppel_domain::record::Value;
use koppel_domain::resources::WORK_ORDERS;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

#[tokio::test]
async fn valid_transitions_are_accepted_and_completed_at_is_kept() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let clock = db.fixed_clock();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let relation = seed::relation(store, a, "D1").await;
        let order = seed::work_order(store, a, "WO-1", relation.id, "Klaargezet").await;
        assert!(order.get(&WORK_ORDERS, "completed_at").is_null());
        assert!(order.get(&WORK_ORDERS, "export_error").is_null());

        let status = |status: &str| json!({ "status": status });
        clock.advance(Duration::hours(1));
        let fetched = seed::update(store, a, &WORK_ORDERS, order.id, status("Opgehaald")).await;
        assert_eq!(text(&fetched, &WORK_ORDERS, "status"), "Opgehaald");
        assert!(fetched.get(&WORK_ORDERS, "completed_at").is_null());

        clock.advance(Duration::hours(2));
        let completed_time = start_time() + Duration::hours(3);
        let completed = seed::update(store, a, &WORK_ORDERS, order.id, status("Compleet")).await;
        assert_eq!(
            completed.get(&WORK_ORDERS, "completed_at"),
            &Value::Timestamp(completed_time),
            "{}",
            db.backend().name()
        );

        // Through an export error and back, the field work keeps its completion time.
        clock.advance(Duration::hours(1));
        let failed = seed::update(store, a, &WORK_ORDERS, order.id, status("Exportfout")).await;
        assert_eq!(
            failed.get(&WORK_ORDERS, "completed_at"),
            &Value::Timestamp(completed_time)
        );
        let reopened = seed::update(store, a, &WORK_ORDERS, order.id, status("Compleet")).await;
        assert_eq!(
            reopened.get(&WORK_ORDERS, "completed_at"),
            &Value::Timestamp(completed_time)
        );
        let handled = seed::update(store, a, &WORK_ORDERS, order.id, status("Afgehandeld")).await;
        assert_eq!(text(&handled, &WORK_ORDERS, "status"), "Afgehandeld");
        assert_eq!(
            handled.get(&WORK_ORDERS, "completed_at"),
            &Value::Timestamp(completed_time)
        );
        assert_eq!(store.get_record(a, &WORK_ORDERS, order.id).await.expect("get"), handled);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn invalid_transitions_are_refused() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let relation = seed::relation(store, a, "D1").await;
        let ready = seed::work_order(store, a, "WO-1", relation.id, "Klaargezet").await;
        for next in ["Compleet", "Afgehandeld", "Exportfout"] {
            assert_invalid(
                seed::try_update(store, a, &WORK_ORDERS, ready.id, json!({ "status": next })).await,
                "status",
                "invalid_transition",
            );
        }
        let handled = seed::work_order(store, a, "WO-2", relation.id, "Compleet").await;
        seed::update(store, a, &WORK_ORDERS, handled.id, json!({"status": "Afgehandeld"})).await;
        for next in ["Klaargezet", "Opgehaald", "Compleet", "Exportfout"] {
            assert_invalid(
                seed::try_update(store, a, &WORK_ORDERS, handled.id, json!({ "status": next })).await,
                "status",
                "invalid_transition",
            );
        }
        // A new work order cannot start at the end of its life.
        for start in ["Afgehandeld", "Exportfout"] {
            assert_invalid(
                seed::try_create(
                    store,
                    a,
                    &WORK_ORDERS,
                    json!({"number": "WO-3", "relation_id": relation.id.0, "description": "x", "status": start}),
                )
                .await,
                "status",
                "invalid_transition",
            );
        }
        // Refused changes leave the order as it was.
        assert_eq!(store.get_record(a, &WORK_ORDERS, ready.id).await.expect("get"), ready);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reopening_a_completed_order_clears_completed_at() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let relation = seed::relation(store, a, "D1").await;
        // A work order may be entered as already completed; it is stamped at once.
        let order = seed::work_order(store, a, "WO-1", relation.id, "Compleet").await;
        assert_eq!(order.get(&WORK_ORDERS, "completed_at"), &Value::Timestamp(start_time()));
        db.fixed_clock().advance(Duration::days(1));
        let reopened = seed::update(store, a, &WORK_ORDERS, order.id, json!({"status": "Opgehaald"})).await;
        assert!(reopened.get(&WORK_ORDERS, "completed_at").is_null());
        db.fixed_clock().advance(Duration::days(1));
        let completed_again = seed::update(store, a, &WORK_ORDERS, order.id, json!({"status": "Compleet"})).await;
        assert_eq!(
            completed_again.get(&WORK_ORDERS, "completed_at"),
            &Value::Timestamp(start_time() + Duration::days(2))
        );
        db.cleanup().await;
    }
}
