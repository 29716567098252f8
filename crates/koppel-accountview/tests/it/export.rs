//! Export exactly once: N completed work orders with injected 5xx, commit-then-timeout and 429s end
//! as exactly one invoice per work order in the sandbox, with the right amounts, every work order
//! Afgehandeld; a validation error moves only that work order to Exportfout with AccountView's message.

use crate::support::*;
use koppel_accountview::export::INVOICE_NUMBER_PREFIX;
use koppel_accountview::storage::{self, ExportState};
use koppel_domain::record::Value;
use koppel_domain::resources::{INVOICES, WORK_ORDERS};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

const ORDERS: usize = 30;

#[tokio::test]
async fn faults_never_post_an_invoice_twice() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        let cut_off = store.now() - chrono::Duration::seconds(5);
        connect(&sandbox, &accountview, administration, fixture.admin.id, DEMO_USER).await;
        let mut settings = export_settings(cut_off);
        settings.export.enabled = false;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        accountview.import(administration, &[], None).await.unwrap();
        settings.export.enabled = true;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        // An old completed work order before the cut-off would need a fixed clock; the cut-off is
        // covered by the candidate query's `completed_at >= cut_off`.
        let orders = completed_work_orders(store, administration, "10001", ORDERS).await;

        // Faults: 5xx, commit-then-timeout (stored, then the connection drops), 429 with Retry-After.
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": "POST /api/v3/AccountViewData", "count": 3, "status": 500}),
            )
            .await;
        sandbox
            .post(
                "/_sandbox/faults/commit-then-timeout",
                json!({"route": "POST /api/v3/AccountViewData", "count": 3}),
            )
            .await;
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": "POST /api/v3/AccountViewData", "count": 2, "status": 429, "retry_after_seconds": 1}),
            )
            .await;
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": "GET /api/v3/AccountViewData", "count": 2, "status": 503}),
            )
            .await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!(counts.pending, 0, "{counts:?}");
        assert_eq!(counts.failed, 0, "{counts:?}");
        assert_eq!(counts.exported + counts.confirmed, ORDERS as u64, "{counts:?}");
        assert!(counts.read_backs >= 3, "ambiguous posts were read back: {counts:?}");

        // Exactly one committed invoice per work order, with Koppel's amounts; every order Afgehandeld.
        let posted = sandbox.posted_invoices().await;
        assert_eq!(posted.len(), ORDERS, "one invoice number per work order");
        for (number, posts) in &posted {
            assert_eq!(posts.len(), 1, "invoice {number} was committed {} times", posts.len());
            assert!(number.starts_with(INVOICE_NUMBER_PREFIX));
        }
        for order in &orders {
            let record = store.get_record(administration, &WORK_ORDERS, *order).await.unwrap();
            assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Afgehandeld".into()));
            let export = storage::export(store, administration, *order)
                .await
                .unwrap()
                .expect("ledger row");
            assert_eq!(export.state, ExportState::Exported);
            let invoice = store
                .get_record(administration, &INVOICES, export.invoice)
                .await
                .unwrap();
            let lines = &posted[&export.invoice_number][0]["TableData"]["DetailData"][0]["Rows"];
            let mut excl = 0_i64;
            let mut vat = 0_i64;
            for line in lines.as_array().unwrap() {
                let values = &line["Values"];
                excl += koppel_domain::Money::parse(&values[1].to_string()).unwrap().cents();
                vat += koppel_domain::Money::parse(&values[4].to_string()).unwrap().cents();
            }
            assert_eq!(
                json!(excl),
                json!(invoice.get(&INVOICES, "total_excl_vat").as_i64().unwrap())
            );
            assert_eq!(json!(vat), json!(invoice.get(&INVOICES, "total_vat").as_i64().unwrap()));
            assert_eq!(
                excl + vat,
                invoice.get(&INVOICES, "total_incl_vat").as_i64().unwrap(),
                "the invoice balances"
            );
        }

        // Running again exports nothing: nothing is Compleet any more and the ledger says exported.
        let again = accountview.export(administration, None).await.unwrap();
        assert_eq!(again.exported + again.confirmed + again.posts, 0, "{again:?}");

        // Disconnect and reconnect: nothing is exported again.
        accountview.disconnect(administration).await.unwrap();
        connect(&sandbox, &accountview, administration, fixture.admin.id, DEMO_USER).await;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        let after_reconnect = accountview.export(administration, None).await.unwrap();
        assert_eq!(after_reconnect.posts, 0);
        assert_eq!(sandbox.posted_invoices().await.len(), ORDERS);

        database.cleanup().await;
    }
}

#[tokio::test]
async fn a_refused_invoice_moves_only_its_work_order_to_exportfout() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        let cut_off = store.now() - chrono::Duration::seconds(5);
        connect(&sandbox, &accountview, administration, fixture.admin.id, DEMO_USER).await;
        let mut settings = export_settings(cut_off);
        settings.import.include_blocked_debtors = true;
        settings.export.enabled = false;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        accountview.import(administration, &[], None).await.unwrap();
        settings.export.enabled = true;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        // Debtor 10005 is blocked in AccountView: its invoice is refused; 10001's goes through.
        let good = completed_work_orders(store, administration, "10001", 1).await;
        let bad_relation = {
            let mut tx = store.write(administration).await.unwrap();
            let record = tx
                .record_by_code(&koppel_domain::resources::RELATIONS, "10005")
                .await
                .unwrap()
                .unwrap();
            tx.rollback().await.unwrap();
            record.id
        };
        let bad = create(
            store,
            administration,
            "work-orders",
            json!({"number": "WB-BAD", "relation_id": bad_relation, "description": "Storing", "status": "Compleet"}),
        )
        .await;
        create(
            store,
            administration,
            "work-order-hours",
            json!({"work_order_id": bad, "hour_type_code": "MONTAGE", "work_date": "2026-03-14",
                   "hours": "2", "rate": "65.00", "vat_rate": "21"}),
        )
        .await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!((counts.exported, counts.failed), (1, 1), "{counts:?}");
        let record = store.get_record(administration, &WORK_ORDERS, bad).await.unwrap();
        assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Exportfout".into()));
        let reason = record.get(&WORK_ORDERS, "export_error").as_str().unwrap().to_string();
        assert!(reason.contains("AccountView weigerde de factuur: "), "{reason}");
        assert!(
            reason.contains("geblokkeerd") || reason.contains("10005"),
            "AccountView's own words: {reason}"
        );
        let good_record = store.get_record(administration, &WORK_ORDERS, good[0]).await.unwrap();
        assert_eq!(
            good_record.get(&WORK_ORDERS, "status"),
            &Value::Text("Afgehandeld".into())
        );
        database.cleanup().await;
    }
}

/// Connects, imports and switches the export on with "create missing debtors" as asked.
async fn ready_to_export(
    sandbox: &TestSandbox,
    accountview: &koppel_accountview::AccountView,
    store: &koppel_store::Store,
    fixture: &Fixture,
    create_missing_debtors: bool,
) {
    let administration = fixture.main;
    let cut_off = store.now() - chrono::Duration::seconds(5);
    connect(sandbox, accountview, administration, fixture.admin.id, DEMO_USER).await;
    let mut settings = export_settings(cut_off);
    settings.export.enabled = false;
    accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
    accountview.import(administration, &[], None).await.unwrap();
    settings.export.enabled = true;
    settings.export.create_missing_debtors = create_missing_debtors;
    accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
}

/// Committed AR1 posts for one debtor number.
async fn debtors_created(sandbox: &TestSandbox, debtor: &str) -> usize {
    let posted = sandbox.get("/_sandbox/posted?business_object=AR1&committed=true").await;
    posted
        .as_array()
        .expect("list")
        .iter()
        .filter(|post| post["request"]["TableData"]["Data"]["Rows"][0]["Values"][0].as_str() == Some(debtor))
        .count()
}

#[tokio::test]
async fn a_transient_failure_creating_the_debtor_is_retried_not_final() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        ready_to_export(&sandbox, &accountview, store, &fixture, true).await;
        // K-NEW-1 is not in AccountView: the export creates it first, and that POST meets a 500, a
        // 429 and a commit-then-timeout (stored, then no answer) before it is answered.
        let orders = completed_work_orders(store, administration, "K-NEW-1", 1).await;
        for fault in [
            json!({"route": "POST /api/v3/AccountViewData", "count": 1, "status": 500}),
            json!({"route": "POST /api/v3/AccountViewData", "count": 1, "status": 429, "retry_after_seconds": 1}),
        ] {
            sandbox.post("/_sandbox/faults/fail-next", fault).await;
        }
        sandbox
            .post(
                "/_sandbox/faults/commit-then-timeout",
                json!({"route": "POST /api/v3/AccountViewData", "count": 1}),
            )
            .await;
        // The debtor read before creating it meets a 503 too.
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": "GET /api/v3/AccountViewData", "count": 1, "status": 503}),
            )
            .await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!(
            (counts.exported, counts.failed, counts.pending),
            (1, 0, 0),
            "{counts:?}"
        );
        let record = store.get_record(administration, &WORK_ORDERS, orders[0]).await.unwrap();
        assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Afgehandeld".into()));
        assert_eq!(debtors_created(&sandbox, "K-NEW-1").await, 1, "the debtor exists once");
        assert_eq!(sandbox.posted_invoices().await.len(), 1, "one invoice");
        database.cleanup().await;
    }
}

#[tokio::test]
async fn an_export_whose_debtor_stays_unreachable_is_left_open_for_the_job_retry() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        ready_to_export(&sandbox, &accountview, store, &fixture, true).await;
        let orders = completed_work_orders(store, administration, "K-NEW-2", 1).await;
        // More 503s on every POST than one run retries: the work order stays open, no invoice is
        // posted for a debtor that is not there, and the next run (the job's retry) exports it.
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": "POST /api/v3/AccountViewData", "count": 40, "status": 503}),
            )
            .await;
        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!(
            (counts.exported, counts.failed, counts.pending),
            (0, 0, 1),
            "{counts:?}"
        );
        let record = store.get_record(administration, &WORK_ORDERS, orders[0]).await.unwrap();
        assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Compleet".into()));
        assert!(sandbox.posted_invoices().await.is_empty());

        sandbox.control(reqwest::Method::DELETE, "/_sandbox/faults", None).await;
        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!(
            (counts.exported, counts.failed, counts.pending),
            (1, 0, 0),
            "{counts:?}"
        );
        assert_eq!(debtors_created(&sandbox, "K-NEW-2").await, 1);
        let record = store.get_record(administration, &WORK_ORDERS, orders[0]).await.unwrap();
        assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Afgehandeld".into()));
        database.cleanup().await;
    }
}

#[tokio::test]
async fn an_invoice_without_lines_is_refused_locally_and_never_posted() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        ready_to_export(&sandbox, &accountview, store, &fixture, false).await;
        let relation = {
            let mut tx = store.write(administration).await.unwrap();
            let record = tx
                .record_by_code(&koppel_domain::resources::RELATIONS, "10001")
                .await
                .unwrap()
                .unwrap();
            tx.rollback().await.unwrap();
            record.id
        };
        let empty = create(
            store,
            administration,
            "work-orders",
            json!({"number": "WB-LEEG", "relation_id": relation, "description": "Niets gedaan", "status": "Compleet"}),
        )
        .await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!((counts.exported, counts.failed, counts.posts), (0, 1, 0), "{counts:?}");
        let record = store.get_record(administration, &WORK_ORDERS, empty).await.unwrap();
        assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Exportfout".into()));
        let reason = record.get(&WORK_ORDERS, "export_error").as_str().unwrap().to_string();
        assert!(reason.contains("geen regels"), "{reason}");
        let posted = sandbox.get("/_sandbox/posted?business_object=DJ2").await;
        assert_eq!(posted.as_array().map(Vec::len), Some(0), "nothing was sent: {posted}");
        database.cleanup().await;
    }
}

#[tokio::test]
async fn export_progress_moves_with_every_work_order() {
    use koppel_jobs::runs::RunStatus;
    use koppel_jobs::{Queue, Registry};
    const ORDERS_HERE: i64 = 4;
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        ready_to_export(&sandbox, &accountview, store, &fixture, false).await;
        completed_work_orders(store, administration, "10001", ORDERS_HERE as usize).await;
        // Every invoice POST takes a while, as over a real network.
        sandbox
            .control(
                reqwest::Method::PUT,
                "/_sandbox/faults/latency",
                Some(json!({"route": "POST /api/v3/AccountViewData", "latency_ms": 300})),
            )
            .await;
        let queue = Queue::new(store.clone(), 3);
        let mut registry = Registry::new();
        registry.register(koppel_accountview::export::ExportJob {
            accountview: accountview.clone(),
        });
        let worker = koppel_jobs::testing::worker(&queue, registry).build();
        let run = koppel_accountview::export::enqueue(store, administration, None)
            .await
            .unwrap()
            .run();
        let running = tokio::spawn(async move { worker.run_until_idle().await });
        // What a user watching the run sees while it runs: it must move before the end.
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let current = koppel_jobs::runs::run(store, administration, run).await.unwrap();
            if current.status.is_finished() {
                assert_eq!(current.status, RunStatus::Succeeded, "{current:?}");
                // The bar ends full: every work order done of all that were ready.
                assert_eq!(
                    (current.progress_done, current.progress_total),
                    (ORDERS_HERE, Some(ORDERS_HERE)),
                    "{current:?}"
                );
                break;
            }
            if current.status == RunStatus::Running {
                seen.insert(current.progress_done);
                // The total is counted before the first work order, so the bar has something to fill.
                if current.progress_done > 0 {
                    assert_eq!(current.progress_total, Some(ORDERS_HERE), "{current:?}");
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        running.await.unwrap().unwrap();
        assert!(
            seen.iter().any(|done| (1..ORDERS_HERE).contains(done)),
            "progress seen while running: {seen:?}"
        );
        database.cleanup().await;
    }
}
