//! Export exactly once: N completed work orders with injected 5xx, commit-then-timeout and 429s end
//! as exactly one invoice per work order in the sandbox, with the right amounts, every work order
//! Afgehandeld, also with several posts in flight at once; a validation error moves only that work
//! order to Exportfout with AccountView's message. A 429 holds every post until its `Retry-After`,
//! and Koppel keeps its calls within AccountView's rate limit (both counted in the sandbox's call log).

use crate::support::*;
use koppel_accountview::export::INVOICE_NUMBER_PREFIX;
use koppel_accountview::storage::{self, ExportState};
use koppel_domain::record::Value;
use koppel_domain::resources::{INVOICES, WORK_ORDERS};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::{Value as Json, json};

const INVOICE_POST: &str = "POST /api/v3/AccountViewData";

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
    // More work orders than the export has in flight, so the bar moves in several steps.
    const ORDERS_HERE: i64 = 20;
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
                Some(json!({"route": "POST /api/v3/AccountViewData", "latency_ms": 200})),
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

/// The connector with the tests' configuration, changed by `change`.
fn connector_with(
    sandbox: &TestSandbox,
    store: &koppel_store::Store,
    change: impl FnOnce(&mut koppel_accountview::AccountViewConfig),
) -> koppel_accountview::AccountView {
    use koppel_test_support::accountview::{REDIRECT_URI, test_config};
    let mut config = test_config(&sandbox.base, REDIRECT_URI);
    change(&mut config);
    koppel_accountview::AccountView::new(config, store.clone()).expect("connector")
}

/// The calls the sandbox saw for the test administration, oldest first.
async fn calls(sandbox: &TestSandbox) -> Vec<Json> {
    let log = sandbox.get(&format!("/_sandbox/calls?company_id={VDB_2026_ID}")).await;
    log["calls"].as_array().expect("calls").clone()
}

fn millis(call: &Json, field: &str) -> i64 {
    call[field].as_i64().unwrap_or_else(|| panic!("{field} in {call}"))
}

/// Exactly one committed invoice per work order, each work order Afgehandeld with its ledger row
/// exported.
async fn assert_exported_once(
    sandbox: &TestSandbox,
    store: &koppel_store::Store,
    administration: koppel_domain::AdministrationId,
    orders: &[koppel_domain::RecordId],
) {
    let posted = sandbox.posted_invoices().await;
    assert_eq!(posted.len(), orders.len(), "one invoice number per work order");
    for (number, posts) in &posted {
        assert_eq!(posts.len(), 1, "invoice {number} was committed {} times", posts.len());
    }
    for order in orders {
        let record = store.get_record(administration, &WORK_ORDERS, *order).await.unwrap();
        assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Afgehandeld".into()));
        let export = storage::export(store, administration, *order)
            .await
            .unwrap()
            .expect("ledger row");
        assert_eq!(export.state, ExportState::Exported);
        assert!(posted.contains_key(&export.invoice_number), "{}", export.invoice_number);
    }
}

#[tokio::test]
async fn a_429_holds_every_post_until_its_retry_after() {
    const ORDERS_HERE: usize = 24;
    const RETRY_AFTER_MS: i64 = 2_000;
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        // No pacing of Koppel's own: only the 429 holds the posts in flight back.
        let accountview = connector_with(&sandbox, store, |config| config.rate_limit_per_minute = 0);
        assert!(
            accountview.config().export_concurrency > 1,
            "posts side by side by default"
        );
        let administration = fixture.main;
        ready_to_export(&sandbox, &accountview, store, &fixture, false).await;
        let orders = completed_work_orders(store, administration, "10001", ORDERS_HERE).await;
        sandbox.control(reqwest::Method::DELETE, "/_sandbox/calls", None).await;
        // The first post to arrive meets a 429 with Retry-After: 2; the others sent with it go through.
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": INVOICE_POST, "count": 1, "status": 429, "retry_after_seconds": 2}),
            )
            .await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!(
            (counts.exported, counts.failed, counts.pending),
            (ORDERS_HERE as u64, 0, 0),
            "{counts:?}"
        );
        assert_exported_once(&sandbox, store, administration, &orders).await;

        let calls = calls(&sandbox).await;
        let limited: Vec<&Json> = calls.iter().filter(|call| call["status"] == 429).collect();
        assert_eq!(limited.len(), 1, "the sandbox answered one 429: {calls:?}");
        let answered = millis(limited[0], "answered_ms");
        // Posts already sent when the 429 came back may arrive just after it; after that, nothing
        // until the Retry-After has passed.
        let held: Vec<i64> = calls
            .iter()
            .map(|call| millis(call, "arrived_ms") - answered)
            .filter(|after| (250..RETRY_AFTER_MS).contains(after))
            .collect();
        assert!(
            held.is_empty(),
            "calls {held:?} ms after the 429, before its Retry-After"
        );
        let resumed = calls
            .iter()
            .filter(|call| millis(call, "arrived_ms") - answered >= RETRY_AFTER_MS)
            .count();
        assert!(resumed > 0, "the export went on after the pause: {calls:?}");
        database.cleanup().await;
    }
}

#[tokio::test]
async fn calls_stay_within_the_rate_limit() {
    const ORDERS_HERE: usize = 10;
    const PER_MINUTE: u32 = 300;
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = connector_with(&sandbox, store, |config| config.rate_limit_per_minute = PER_MINUTE);
        let administration = fixture.main;
        // Creating missing debtors: each invoice also reads its debtor first, and one debtor is
        // created, so reads and writes share the limit.
        ready_to_export(&sandbox, &accountview, store, &fixture, true).await;
        let orders = completed_work_orders(store, administration, "K-NEW-3", ORDERS_HERE).await;
        // AccountView at the same limit, with a burst of 2: Koppel's pace must not run into it.
        sandbox
            .control(
                reqwest::Method::PUT,
                "/_sandbox/rate-limit",
                Some(json!({"requests_per_minute": PER_MINUTE, "burst": 2})),
            )
            .await;
        sandbox.control(reqwest::Method::DELETE, "/_sandbox/calls", None).await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!((counts.exported, counts.pending), (ORDERS_HERE as u64, 0), "{counts:?}");
        assert_exported_once(&sandbox, store, administration, &orders).await;
        assert_eq!(debtors_created(&sandbox, "K-NEW-3").await, 1);

        let calls = calls(&sandbox).await;
        assert!(calls.len() > 2 * ORDERS_HERE, "reads and posts: {}", calls.len());
        assert!(
            calls.iter().all(|call| call["status"] != 429),
            "AccountView never had to refuse a call: {calls:?}"
        );
        // Never more calls in any window than the limit allows: from the i-th to the j-th call at
        // least (j - i) intervals minus half of one (a late caller catches up), plus 50 ms of
        // network jitter.
        let interval_ms = 60_000.0 / f64::from(PER_MINUTE);
        let mut arrived: Vec<i64> = calls.iter().map(|call| millis(call, "arrived_ms")).collect();
        arrived.sort_unstable();
        for (i, first) in arrived.iter().enumerate() {
            for (j, last) in arrived.iter().enumerate().skip(i + 1) {
                let allowed = ((last - first + 50) as f64 / interval_ms + 0.5).floor() as usize;
                assert!(
                    j - i <= allowed,
                    "{} calls within {} ms at {PER_MINUTE}/min: {arrived:?}",
                    j - i + 1,
                    last - first
                );
            }
        }
        database.cleanup().await;
    }
}

#[tokio::test]
async fn posts_in_flight_together_meeting_commit_then_timeout_are_exported_once() {
    const ORDERS_HERE: usize = 40;
    const DROPPED: u64 = 12;
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = connector_with(&sandbox, store, |config| config.rate_limit_per_minute = 0);
        let administration = fixture.main;
        ready_to_export(&sandbox, &accountview, store, &fixture, false).await;
        let orders = completed_work_orders(store, administration, "10001", ORDERS_HERE).await;
        // Slow posts, so several are in flight at once; the first twelve are stored and then their
        // connections dropped (several at the same moment), and three more meet a 500.
        sandbox
            .control(
                reqwest::Method::PUT,
                "/_sandbox/faults/latency",
                Some(json!({"route": INVOICE_POST, "latency_ms": 100})),
            )
            .await;
        sandbox
            .post(
                "/_sandbox/faults/commit-then-timeout",
                json!({"route": INVOICE_POST, "count": DROPPED}),
            )
            .await;
        sandbox
            .post(
                "/_sandbox/faults/fail-next",
                json!({"route": INVOICE_POST, "count": 3, "status": 500}),
            )
            .await;
        sandbox.control(reqwest::Method::DELETE, "/_sandbox/calls", None).await;

        let counts = accountview.export(administration, None).await.unwrap();
        assert_eq!((counts.failed, counts.pending), (0, 0), "{counts:?}");
        assert_eq!(
            (counts.exported, counts.confirmed),
            (ORDERS_HERE as u64 - DROPPED, DROPPED),
            "every dropped post was read back and found: {counts:?}"
        );
        assert_exported_once(&sandbox, store, administration, &orders).await;

        // The posts really overlapped: the most in flight at one moment, by the sandbox's clock.
        let posts: Vec<(i64, i64)> = calls(&sandbox)
            .await
            .iter()
            .filter(|call| call["route"] == INVOICE_POST)
            .map(|call| (millis(call, "arrived_ms"), millis(call, "answered_ms")))
            .collect();
        let most = posts
            .iter()
            .map(|(arrived, _)| posts.iter().filter(|(a, b)| a <= arrived && arrived < b).count())
            .max()
            .unwrap_or(0);
        assert!(most >= 4, "at most {most} posts were in flight at once: {posts:?}");
        database.cleanup().await;
    }
}
