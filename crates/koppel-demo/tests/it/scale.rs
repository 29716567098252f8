//! `demo --scale N`: exactly N work orders, with lines, invoices and payments that hang together.

use crate::all_records;
use crate::database::{on_postgres, on_sqlite};
use koppel_demo::{BENCHMARK_ENVIRONMENT, DemoError, DemoOptions};
use koppel_domain::RecordId;
use koppel_domain::record::parse_create;
use koppel_domain::resources::{
    ADDRESSES, INVOICE_LINES, INVOICES, OBJECTS, PAYMENTS, RELATIONS, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS,
    WORK_ORDERS,
};
use koppel_store::Store;
use koppel_store::records::ListQuery;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const WORK_ORDERS_TO_LOAD: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_run_loads_exactly_n_consistent_work_orders_on_sqlite() {
    on_sqlite(check_scale).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_run_loads_exactly_n_consistent_work_orders_on_postgres() {
    on_postgres("a_scaled_run_loads_exactly_n_consistent_work_orders", check_scale).await;
}

fn ids(records: &[koppel_store::records::StoredRecord]) -> BTreeSet<i64> {
    records.iter().map(|record| record.id.0).collect()
}

async fn check_scale(store: Store) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let options = DemoOptions {
        // Small batches, so the run crosses several transactions and id reservations.
        batch_size: 700,
        progress: Some(Arc::new(move |progress: &koppel_demo::Progress| {
            seen.lock().unwrap().push(progress.work_orders_done);
        })),
        ..DemoOptions::scaled(WORK_ORDERS_TO_LOAD)
    };
    let summary = koppel_demo::seed(&store, &options)
        .await
        .expect("a scaled run on a fresh database");
    assert_eq!(summary.work_orders, WORK_ORDERS_TO_LOAD);
    assert_eq!(
        *reports.lock().unwrap(),
        vec![700, 1_400, 2_000],
        "progress after every batch"
    );
    assert!(summary.work_orders_per_second() > 0.0);
    let administration = summary.administrations[0].id;

    let work_orders = all_records(&store, administration, &WORK_ORDERS).await;
    assert_eq!(work_orders.len() as u64, WORK_ORDERS_TO_LOAD);
    let numbers: BTreeSet<&str> = work_orders
        .iter()
        .map(|record| record.get(&WORK_ORDERS, "number").as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), work_orders.len(), "work-order numbers are unique");

    // References point inside the same administration (foreign keys alone would not tell).
    let work_order_ids = ids(&work_orders);
    let relations = ids(&all_records(&store, administration, &RELATIONS).await);
    let objects = all_records(&store, administration, &OBJECTS).await;
    let addresses = ids(&all_records(&store, administration, &ADDRESSES).await);
    assert!(relations.len() >= (WORK_ORDERS_TO_LOAD / 10) as usize);
    for object in &objects {
        assert!(relations.contains(&object.get(&OBJECTS, "relation_id").as_i64().unwrap()));
        assert!(addresses.contains(&object.get(&OBJECTS, "address_id").as_i64().unwrap()));
    }
    let object_ids = ids(&objects);
    for order in &work_orders {
        assert!(relations.contains(&order.get(&WORK_ORDERS, "relation_id").as_i64().unwrap()));
        if let Some(object) = order.get(&WORK_ORDERS, "object_id").as_i64() {
            assert!(object_ids.contains(&object));
        }
        assert_eq!(order.created_at, store.now(), "stamped with the transaction's time");
        assert_eq!(order.modified_at, store.now());
        assert!(order.change_seq > 0);
    }
    // Bulk rows compare like rows written one at a time, so modification filters and sync see them.
    let since = |modified_since, modified_before| ListQuery {
        limit: 1,
        modified_since,
        modified_before,
        ..ListQuery::default()
    };
    let page = store
        .list_records(administration, &WORK_ORDERS, &since(Some(store.now()), None))
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    let page = store
        .list_records(administration, &WORK_ORDERS, &since(None, Some(store.now())))
        .await
        .unwrap();
    assert!(page.records.is_empty());
    let mut snapshot = store.snapshot().await.unwrap();
    let changed = snapshot
        .changed_records(administration, &WORK_ORDER_HOURS, 0, 0, 100_000)
        .await
        .unwrap();
    snapshot.rollback().await.unwrap();
    assert_eq!(
        changed.len(),
        hours_count(&store, administration).await,
        "change tracking sees every line"
    );
    let hours = all_records(&store, administration, &WORK_ORDER_HOURS).await;
    let materials = all_records(&store, administration, &WORK_ORDER_MATERIALS).await;
    for line in &hours {
        assert!(work_order_ids.contains(&line.get(&WORK_ORDER_HOURS, "work_order_id").as_i64().unwrap()));
    }
    for line in &materials {
        assert!(work_order_ids.contains(&line.get(&WORK_ORDER_MATERIALS, "work_order_id").as_i64().unwrap()));
    }
    let per_order = |count: usize| count as f64 / WORK_ORDERS_TO_LOAD as f64;
    assert!(
        (1.7..2.3).contains(&per_order(hours.len())),
        "about two hour lines each: {}",
        hours.len()
    );
    assert!(
        (1.7..2.3).contains(&per_order(materials.len())),
        "about two material lines each"
    );

    let invoices = all_records(&store, administration, &INVOICES).await;
    assert!(
        (0.55..0.65).contains(&per_order(invoices.len())),
        "about 60% invoiced: {}",
        invoices.len()
    );
    let lines = all_records(&store, administration, &INVOICE_LINES).await;
    let payments = all_records(&store, administration, &PAYMENTS).await;
    let mut sums: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for line in &lines {
        let entry = sums
            .entry(line.get(&INVOICE_LINES, "invoice_id").as_i64().unwrap())
            .or_default();
        entry.0 += line.get(&INVOICE_LINES, "amount_excl_vat").as_i64().unwrap();
        entry.1 += line.get(&INVOICE_LINES, "vat_amount").as_i64().unwrap();
    }
    let mut paid: BTreeMap<i64, i64> = BTreeMap::new();
    for payment in &payments {
        *paid
            .entry(payment.get(&PAYMENTS, "invoice_id").as_i64().unwrap())
            .or_default() += payment.get(&PAYMENTS, "amount").as_i64().unwrap();
    }
    let invoiced_orders: BTreeSet<i64> = invoices
        .iter()
        .map(|invoice| invoice.get(&INVOICES, "work_order_id").as_i64().unwrap())
        .collect();
    assert_eq!(
        invoiced_orders.len(),
        invoices.len(),
        "a work order is invoiced at most once"
    );
    for invoice in &invoices {
        let work_order = invoice.get(&INVOICES, "work_order_id").as_i64().unwrap();
        assert!(work_order_ids.contains(&work_order));
        let status = work_orders
            .iter()
            .find(|o| o.id.0 == work_order)
            .unwrap()
            .get(&WORK_ORDERS, "status");
        assert_eq!(
            status.as_str(),
            Some("Afgehandeld"),
            "only handled work orders are invoiced"
        );
        let (excl, vat) = sums[&invoice.id.0];
        assert_eq!(invoice.get(&INVOICES, "total_excl_vat").as_i64(), Some(excl));
        assert_eq!(invoice.get(&INVOICES, "total_vat").as_i64(), Some(vat));
        assert_eq!(invoice.get(&INVOICES, "total_incl_vat").as_i64(), Some(excl + vat));
        assert_eq!(
            invoice.get(&INVOICES, "paid_amount").as_i64(),
            Some(paid.get(&invoice.id.0).copied().unwrap_or_default())
        );
    }

    // The store carries on normally after a bulk load: new records get fresh ids, and numbers given
    // out one at a time continue after the bulk-reserved ones.
    let highest_relation = *relations.iter().max().unwrap();
    let relation = store
        .create_record(
            administration,
            &RELATIONS,
            parse_create(
                &RELATIONS,
                &json!({"code": "NIEUW-1", "name": "Nieuwe klant", "kind": "person"}),
            )
            .unwrap(),
        )
        .await
        .expect("an ordinary insert after the bulk load");
    assert!(relation.id > RecordId(highest_relation));
    let highest_invoice_number = invoices
        .iter()
        .filter_map(|invoice| invoice.get(&INVOICES, "number").as_str())
        .filter_map(|number| number.strip_prefix("2026-"))
        .filter_map(|sequence| sequence.parse::<i64>().ok())
        .max()
        .unwrap();
    let mut tx = store.write(administration).await.unwrap();
    assert_eq!(
        tx.next_number("invoice-2026").await.unwrap(),
        highest_invoice_number + 1
    );
    tx.rollback().await.unwrap();

    match koppel_demo::seed(&store, &DemoOptions::scaled(10)).await {
        Err(DemoError::AlreadySeeded { name, .. }) => assert_eq!(name, BENCHMARK_ENVIRONMENT),
        other => panic!("a second scaled run must be refused, got {other:?}"),
    }
}

async fn hours_count(store: &Store, administration: koppel_domain::AdministrationId) -> usize {
    all_records(store, administration, &WORK_ORDER_HOURS).await.len()
}
