//! Invoicing completed work orders (exact totals, VAT per line, once) and payments.

use crate::seed::{self, integer, text};
use crate::{assert_conflict, assert_not_found, start_time};
use chrono::NaiveDate;
use koppel_domain::record::Value;
use koppel_domain::resources::{
    INVOICE_LINES, INVOICES, PAYMENTS, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS, WORK_ORDERS,
};
use koppel_domain::{AdministrationId, Money, RecordId};
use koppel_store::Store;
use koppel_store::invoicing::DEFAULT_PAYMENT_TERM_DAYS;
use koppel_store::records::StoredRecord;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

fn money(record: &StoredRecord, spec: &koppel_domain::record::ResourceSpec, field: &str) -> String {
    Money::from_cents(integer(record, spec, field)).to_string()
}

/// A work order with two hour lines and four material lines, in the given status.
async fn work_order_with_lines(store: &Store, a: AdministrationId, number: &str, status: &str) -> StoredRecord {
    let relation = seed::relation(store, a, &format!("D-{number}")).await;
    if store
        .list_records(
            a,
            &koppel_domain::resources::HOUR_TYPES,
            &koppel_store::records::ListQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .records
        .is_empty()
    {
        seed::hour_type(store, a, "NORMAAL").await;
    }
    let order = seed::work_order(store, a, number, relation.id, "Opgehaald").await;
    for (hours, rate, vat) in [("1.5", "72.50", "21"), ("2", "65.00", "9")] {
        seed::create(
            store,
            a,
            &WORK_ORDER_HOURS,
            json!({"work_order_id": order.id.0, "hour_type_code": "NORMAAL", "work_date": "2026-11-20",
                   "hours": hours, "rate": rate, "vat_rate": vat}),
        )
        .await;
    }
    let material = seed::material(store, a, &format!("M-{number}"), "4.99").await;
    for (quantity, price, vat, description) in [
        ("3", "4.99", "9", None),
        ("1", "100.00", "verlegd", Some("Warmtepomp (verlegd)")),
        ("1", "0.05", "9", Some("Sluitring")),
        ("1", "0.05", "9", Some("Sluitring")),
    ] {
        seed::create(
            store,
            a,
            &WORK_ORDER_MATERIALS,
            json!({"work_order_id": order.id.0, "material_id": material.id.0, "quantity": quantity,
                   "price": price, "vat_rate": vat, "description": description}),
        )
        .await;
    }
    if status == "Opgehaald" {
        order
    } else {
        seed::update(store, a, &WORK_ORDERS, order.id, json!({ "status": status })).await
    }
}

#[tokio::test]
async fn a_completed_work_order_is_invoiced_exactly_with_vat_per_line() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let order = work_order_with_lines(store, a, "WO-1", "Compleet").await;
        let invoice = store
            .invoice_work_order(a, order.id, DEFAULT_PAYMENT_TERM_DAYS)
            .await
            .expect("invoice");

        assert_eq!(text(&invoice, &INVOICES, "number"), "2026-00001");
        assert_eq!(
            invoice.get(&INVOICES, "relation_id"),
            order.get(&WORK_ORDERS, "relation_id")
        );
        assert_eq!(invoice.get(&INVOICES, "work_order_id"), &Value::Integer(order.id.0));
        assert_eq!(
            invoice.get(&INVOICES, "invoice_date"),
            &Value::Date(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())
        );
        assert_eq!(
            invoice.get(&INVOICES, "due_date"),
            &Value::Date(NaiveDate::from_ymd_opt(2026, 12, 22).unwrap())
        );
        // 108.75 + 130.00 + 14.97 + 100.00 + 0.05 + 0.05
        assert_eq!(money(&invoice, &INVOICES, "total_excl_vat"), "353.82");
        // 22.84 + 11.70 + 1.35 + 0 + 0.00 + 0.00; rounding the 9% total once would give 13.06, not 13.05.
        assert_eq!(money(&invoice, &INVOICES, "total_vat"), "35.89");
        assert_eq!(money(&invoice, &INVOICES, "total_incl_vat"), "389.71");
        assert_eq!(money(&invoice, &INVOICES, "paid_amount"), "0.00");
        assert_eq!(text(&invoice, &INVOICES, "payment_status"), "open");

        let mut snapshot = store.snapshot().await.expect("snapshot");
        let lines = snapshot.children(a, &INVOICE_LINES, invoice.id).await.expect("lines");
        snapshot.rollback().await.expect("end");
        let summary: Vec<String> = lines
            .iter()
            .map(|line| {
                format!(
                    "{} {} '{}' {} x {} @{} = {} + {}",
                    integer(line, &INVOICE_LINES, "line_no"),
                    text(line, &INVOICE_LINES, "kind"),
                    text(line, &INVOICE_LINES, "description"),
                    koppel_domain::Quantity::from_thousandths(integer(line, &INVOICE_LINES, "quantity")),
                    money(line, &INVOICE_LINES, "unit_price"),
                    text(line, &INVOICE_LINES, "vat_rate"),
                    money(line, &INVOICE_LINES, "amount_excl_vat"),
                    money(line, &INVOICE_LINES, "vat_amount"),
                )
            })
            .collect();
        let expected = [
            "1 hours 'Arbeid NORMAAL' 1.5 x 72.50 @21 = 108.75 + 22.84",
            "2 hours 'Arbeid NORMAAL' 2 x 65.00 @9 = 130.00 + 11.70",
            "3 material 'Artikel M-WO-1' 3 x 4.99 @9 = 14.97 + 1.35",
            "4 material 'Warmtepomp (verlegd)' 1 x 100.00 @verlegd = 100.00 + 0.00",
            "5 material 'Sluitring' 1 x 0.05 @9 = 0.05 + 0.00",
            "6 material 'Sluitring' 1 x 0.05 @9 = 0.05 + 0.00",
        ];
        assert_eq!(summary, expected, "{}", db.backend().name());
        assert!(lines.iter().all(|line| line.change_seq == invoice.change_seq));

        // Numbers count on per administration.
        let second = work_order_with_lines(store, a, "WO-2", "Compleet").await;
        let second_invoice = store.invoice_work_order(a, second.id, 14).await.expect("invoice");
        assert_eq!(text(&second_invoice, &INVOICES, "number"), "2026-00002");
        assert_eq!(
            second_invoice.get(&INVOICES, "due_date"),
            &Value::Date(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap())
        );
        let elsewhere = work_order_with_lines(store, fixture.sub2, "WO-1", "Compleet").await;
        let elsewhere_invoice = store
            .invoice_work_order(fixture.sub2, elsewhere.id, 30)
            .await
            .expect("invoice");
        assert_eq!(text(&elsewhere_invoice, &INVOICES, "number"), "2026-00001");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_work_order_is_invoiced_once_and_only_when_complete() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let fetched = work_order_with_lines(store, a, "WO-1", "Opgehaald").await;
        assert_conflict(store.invoice_work_order(a, fetched.id, 30).await, "not_complete");

        let completed = work_order_with_lines(store, a, "WO-2", "Compleet").await;
        // Not from another administration.
        assert_not_found(store.invoice_work_order(fixture.sub2, completed.id, 30).await);
        let invoice = store.invoice_work_order(a, completed.id, 30).await.expect("invoice");
        assert_conflict(store.invoice_work_order(a, completed.id, 30).await, "already_invoiced");

        // A handled order that was never invoiced (exported instead) is not invoiced afterwards either.
        let handled = work_order_with_lines(store, a, "WO-3", "Compleet").await;
        seed::update(store, a, &WORK_ORDERS, handled.id, json!({"status": "Afgehandeld"})).await;
        assert_conflict(store.invoice_work_order(a, handled.id, 30).await, "not_complete");

        // Exactly one invoice exists, and a refused attempt used no invoice number.
        let all = store
            .list_records(
                a,
                &INVOICES,
                &koppel_store::records::ListQuery {
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        assert_eq!(all.records, vec![invoice]);
        let next = work_order_with_lines(store, a, "WO-4", "Compleet").await;
        let next_invoice = store.invoice_work_order(a, next.id, 30).await.expect("invoice");
        assert!(text(&next_invoice, &INVOICES, "number").ends_with("-00002"));
        // The invoiced work order cannot be deleted while its invoice exists.
        assert_conflict(
            store.delete_record(a, &WORK_ORDERS, completed.id).await,
            "still_referenced",
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn payments_keep_paid_amount_and_payment_status_up_to_date() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let a = fixture.sub1;
        let order = work_order_with_lines(store, a, "WO-1", "Compleet").await;
        let invoice = store.invoice_work_order(a, order.id, 30).await.expect("invoice");
        let invoice_state = |id: RecordId| async move {
            let current = store.get_record(a, &INVOICES, id).await.expect("invoice");
            (
                money(&current, &INVOICES, "paid_amount"),
                text(&current, &INVOICES, "payment_status").to_string(),
                current.change_seq,
            )
        };
        let pay = |amount: &'static str| {
            seed::create(
                store,
                a,
                &PAYMENTS,
                json!({"invoice_id": invoice.id.0, "amount": amount, "paid_on": "2026-11-30", "method": "ideal"}),
            )
        };

        let first = pay("100.00").await;
        let (paid, status, seq) = invoice_state(invoice.id).await;
        assert_eq!((paid.as_str(), status.as_str()), ("100.00", "partly_paid"));
        assert_eq!(seq, first.change_seq, "the invoice changes with the payment, for sync");

        let second = pay("289.71").await;
        let (paid, status, _) = invoice_state(invoice.id).await;
        assert_eq!((paid.as_str(), status.as_str()), ("389.71", "paid"));

        store
            .delete_record(a, &PAYMENTS, first.id)
            .await
            .expect("delete payment");
        let (paid, status, _) = invoice_state(invoice.id).await;
        assert_eq!((paid.as_str(), status.as_str()), ("289.71", "partly_paid"));

        seed::update(store, a, &PAYMENTS, second.id, json!({"amount": "389.71"})).await;
        let (paid, status, _) = invoice_state(invoice.id).await;
        assert_eq!((paid.as_str(), status.as_str()), ("389.71", "paid"));

        // A refund brings it back to open.
        pay("-389.71").await;
        let (paid, status, _) = invoice_state(invoice.id).await;
        assert_eq!(
            (paid.as_str(), status.as_str()),
            ("0.00", "open"),
            "{}",
            db.backend().name()
        );

        // Deleting the invoice takes its lines and payments with it.
        store
            .delete_record(a, &INVOICES, invoice.id)
            .await
            .expect("delete invoice");
        assert_not_found(store.get_record(a, &PAYMENTS, second.id).await);
        let mut snapshot = store.snapshot().await.expect("snapshot");
        assert!(
            snapshot
                .children(a, &INVOICE_LINES, invoice.id)
                .await
                .expect("lines")
                .is_empty()
        );
        snapshot.rollback().await.expect("end");
        db.cleanup().await;
    }
}
