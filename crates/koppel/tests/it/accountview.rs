//! The AccountView export survives a killed process: a `koppel worker` exporting hundreds of completed
//! work orders to a slow, faulty sandbox (5xx, commit-then-timeout, 429) with its default concurrency
//! is SIGKILLed after some but not all invoices were posted, with several posts in flight. A second
//! worker takes the job over after its lease and finishes it: every work order Afgehandeld, and
//! AccountView holds exactly one invoice per work order, with Koppel's amounts.

use accountview_sandbox::VDB_2026_ID;
use accountview_sandbox::loopback::{self, LoopbackSandbox};
use koppel_accountview::AccountView;
use koppel_accountview::storage::{self, ExportState};
use koppel_domain::record::Value;
use koppel_domain::resources::{INVOICES, WORK_ORDERS};
use koppel_domain::{AdministrationId, Money, RecordId};
use koppel_jobs::runs::RunStatus;
use koppel_store::Store;
use koppel_test_support::accountview::{
    self as av, CLIENT_ID, CLIENT_SECRET, DEMO_USER, ENCRYPTION_KEY, REDIRECT_URI, WorkOrders,
};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ORDERS: usize = 300;
/// The first worker is killed once AccountView holds at least this many invoices.
const KILL_AFTER: usize = 60;
/// Faults injected while each worker runs, one at a time, spread over its invoices.
const FAULTS_PER_WORKER: usize = 4;
const INVOICE_POST: &str = "POST /api/v3/AccountViewData";
/// How long every invoice POST takes: with the export's default concurrency several are in flight.
const POST_LATENCY_MS: u64 = 150;

/// The sandbox, in this process, on a free loopback port.
struct TestSandbox {
    sandbox: LoopbackSandbox,
    base: String,
}

impl TestSandbox {
    async fn start() -> TestSandbox {
        let config = loopback::config_for_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI);
        let sandbox = LoopbackSandbox::start(config).await.expect("sandbox");
        TestSandbox {
            base: sandbox.base().to_string(),
            sandbox,
        }
    }

    /// The connector for signing in, saving and importing here; the workers build their own from
    /// `[accountview]` with the same client and key.
    fn connector(&self, store: &Store) -> AccountView {
        av::connector(&self.base, REDIRECT_URI, store)
    }

    async fn post(&self, path: &str, body: Json) -> Json {
        self.sandbox.post(path, body).await.expect("control call")
    }

    async fn put(&self, path: &str, body: Json) -> Json {
        self.sandbox.put(path, body).await.expect("control call")
    }

    /// The request bodies of every committed invoice, oldest first.
    async fn committed_invoices(&self) -> Vec<Json> {
        self.sandbox.committed_invoices().await.expect("posted")
    }

    /// One fault on the invoice POST; which one depends on `step`.
    async fn inject_fault(&self, step: usize) {
        match step % 4 {
            0 => {
                self.post(
                    "/_sandbox/faults/fail-next",
                    json!({"route": INVOICE_POST, "count": 1, "status": 500}),
                )
                .await
            }
            1 => {
                self.post(
                    "/_sandbox/faults/commit-then-timeout",
                    json!({"route": INVOICE_POST, "count": 1}),
                )
                .await
            }
            2 => {
                self.post(
                    "/_sandbox/faults/fail-next",
                    json!({"route": INVOICE_POST, "count": 1, "status": 429, "retry_after_seconds": 1}),
                )
                .await
            }
            _ => {
                self.post(
                    "/_sandbox/faults/fail-next",
                    json!({"route": INVOICE_POST, "count": 1, "status": 503}),
                )
                .await
            }
        };
    }
}

/// A `koppel worker` on the shared database, configured for the sandbox, with short leases.
struct Worker {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Worker {
    fn spawn(database_url: &str, sandbox: &TestSandbox) -> Worker {
        let mut command = crate::cli::koppel();
        let mut child = command
            .arg("worker")
            .env("KOPPEL_DATABASE_URL", database_url)
            // Tests run side by side: each worker serves /metrics on a free port, not the default.
            .env("KOPPEL_JOBS_METRICS_PORT", "0")
            .env("KOPPEL_JOBS_POLL_INTERVAL_MS", "50")
            .env("KOPPEL_JOBS_LEASE_SECONDS", "2")
            .env("KOPPEL_JOBS_HEARTBEAT_SECONDS", "1")
            .env("KOPPEL_JOBS_RETRY_BASE_SECONDS", "1")
            .env("KOPPEL_ACCOUNTVIEW_BASE_URL", &sandbox.base)
            .env("KOPPEL_ACCOUNTVIEW_CLIENT_ID", CLIENT_ID)
            .env("KOPPEL_ACCOUNTVIEW_CLIENT_SECRET", CLIENT_SECRET)
            .env("KOPPEL_ACCOUNTVIEW_REDIRECT_URL", REDIRECT_URI)
            .env("KOPPEL_ACCOUNTVIEW_ENCRYPTION_KEY", ENCRYPTION_KEY)
            .env("KOPPEL_ACCOUNTVIEW_REQUEST_TIMEOUT_SECONDS", "10")
            // Faster than AccountView's 600 a minute, so the test is quick; the concurrency is the
            // default.
            .env("KOPPEL_ACCOUNTVIEW_RATE_LIMIT_PER_MINUTE", "3000")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn koppel worker");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut logs = sink.lock().expect("logs");
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        Worker { child, logs }
    }

    fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("koppel worker exited ({status}):\n{}", self.logs());
        }
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `ORDERS` completed work orders for debtor 10001, each with an hour line at 21% and a material
/// line at 9%; returns them by number.
async fn completed_work_orders(store: &Store, administration: AdministrationId) -> BTreeMap<String, RecordId> {
    let orders = WorkOrders {
        debtor: "10001",
        count: ORDERS,
        material_quantity: |index| format!("{}", 1 + index % 4),
    };
    av::completed_work_orders(store, administration, orders)
        .await
        .into_iter()
        .collect()
}

/// Settings that export to VRK with the seeded accounts and VAT codes, export on or off.
fn export_settings(cut_off: chrono::DateTime<chrono::Utc>, enabled: bool) -> koppel_accountview::Settings {
    let mut settings = av::export_settings(cut_off);
    settings.export.enabled = enabled;
    settings
}

fn status_of(record: &koppel_store::records::StoredRecord) -> String {
    record
        .get(&WORK_ORDERS, "status")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_killed_mid_way_posts_every_invoice_exactly_once() {
    for db in TestDatabase::all().await {
        let store = db.store().clone();
        let fixture = Fixture::create(&store).await;
        let administration = fixture.main;
        let sandbox = TestSandbox::start().await;
        let accountview = sandbox.connector(&store);

        // Connect as the connector's own tests do, import the master data, then switch export on.
        let cut_off = store.now() - chrono::Duration::seconds(5);
        let url = accountview
            .begin_sign_in(administration, fixture.admin.id)
            .await
            .expect("begin");
        let location = sandbox
            .sandbox
            .consent(&url, DEMO_USER, "approve")
            .await
            .expect("consent");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let callback = av::callback_parameters(&location);
        let connected = accountview
            .complete_sign_in(&callback, fixture.admin.id)
            .await
            .expect("complete");
        assert_eq!(connected, administration);
        accountview
            .save(administration, VDB_2026_ID, &export_settings(cut_off, false))
            .await
            .unwrap();
        accountview.import(administration, &[], None).await.unwrap();
        accountview
            .save(administration, VDB_2026_ID, &export_settings(cut_off, true))
            .await
            .unwrap();
        let orders = completed_work_orders(&store, administration).await;

        // A slow AccountView: every invoice POST takes a while, so the kill lands mid-export with
        // several posts in flight.
        sandbox
            .put(
                "/_sandbox/faults/latency",
                json!({"route": INVOICE_POST, "latency_ms": POST_LATENCY_MS}),
            )
            .await;
        let enqueued = koppel_accountview::export::enqueue(&store, administration, None)
            .await
            .unwrap();
        let mut first = Worker::spawn(db.url(), &sandbox);

        // Faults one at a time while it works (5xx, commit-then-timeout, 429), then SIGKILL.
        let mut step = 0;
        let deadline = Instant::now() + Duration::from_secs(90);
        let posted_before_kill = loop {
            let posted = sandbox.committed_invoices().await.len();
            if posted >= KILL_AFTER {
                first.kill();
                break sandbox.committed_invoices().await.len();
            }
            if posted >= 12 * (step + 1) && step < FAULTS_PER_WORKER {
                sandbox.inject_fault(step).await;
                step += 1;
            }
            first.assert_running();
            assert!(
                Instant::now() < deadline,
                "the first worker posted only {posted} invoices within 90 s:\n{}",
                first.logs()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(
            posted_before_kill < ORDERS,
            "the worker was to be killed before it posted all {ORDERS} invoices, but {posted_before_kill} were \
             posted"
        );
        // Posts started (counted in the ledger before sending) but not confirmed: in flight at the kill.
        let mut in_flight = 0;
        for order in orders.values() {
            let export = storage::export(&store, administration, *order).await.unwrap();
            if export.is_some_and(|export| export.state == ExportState::Intent && export.post_attempts > 0) {
                in_flight += 1;
            }
        }
        assert!(
            in_flight >= 2,
            "several posts were in flight at the kill, but {in_flight} were:\n{}",
            first.logs()
        );
        eprintln!(
            "{}: {posted_before_kill} invoices posted before SIGKILL, {in_flight} posts in flight",
            db.url()
        );

        // The next worker takes the job over after its lease and finishes it, through more faults.
        let mut next = Worker::spawn(db.url(), &sandbox);
        let mut remaining: Vec<(&String, &RecordId)> = orders.iter().collect();
        let mut next_fault = posted_before_kill + 10;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !remaining.is_empty() {
            next.assert_running();
            if step < 2 * FAULTS_PER_WORKER && sandbox.committed_invoices().await.len() >= next_fault {
                sandbox.inject_fault(step).await;
                step += 1;
                next_fault += 20;
            }
            let mut still_open = Vec::new();
            for (number, order) in remaining {
                if still_open.is_empty() {
                    let record = store.get_record(administration, &WORK_ORDERS, *order).await.unwrap();
                    if status_of(&record) == "Afgehandeld" {
                        continue;
                    }
                }
                still_open.push((number, order));
            }
            remaining = still_open;
            if remaining.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let mut missing = Vec::new();
                for (number, order) in &remaining {
                    let record = store.get_record(administration, &WORK_ORDERS, **order).await.unwrap();
                    missing.push(format!("{number} ({})", status_of(&record)));
                }
                let run = koppel_jobs::runs::any_run(&store, enqueued.run()).await.unwrap();
                panic!(
                    "{} of {ORDERS} work orders are not Afgehandeld within 120 s after the kill: {}\nrun: {run:?}\n\
                     first worker:\n{}\nsecond worker:\n{}",
                    missing.len(),
                    missing.join(", "),
                    first.logs(),
                    next.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(if step < 2 * FAULTS_PER_WORKER {
                20
            } else {
                200
            }))
            .await;
        }
        // The same job finished on the second worker: its run succeeded on a later attempt.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = koppel_jobs::runs::any_run(&store, enqueued.run()).await.unwrap();
            if run.status == RunStatus::Succeeded {
                assert!(run.attempts >= 2, "the job ran again after the kill: {run:?}");
                break;
            }
            assert!(
                !run.status.is_finished() && Instant::now() < deadline,
                "the export run did not succeed after the kill: {run:?}\n{}",
                next.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        next.kill();

        // Exactly one committed invoice per invoice number and per work order, with Koppel's amounts.
        let committed = sandbox.committed_invoices().await;
        let mut by_number: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
        let mut by_work_order: BTreeMap<String, usize> = BTreeMap::new();
        for request in &committed {
            let header = &request["TableData"]["Data"]["Rows"][0]["Values"];
            let number = header[2].as_str().expect("INV_NR").to_string();
            let description = header[4].as_str().expect("HDR_DESC");
            let work_order = description.strip_prefix("Werkbon ").expect("Werkbon <number>");
            by_number.entry(number).or_default().push(request);
            *by_work_order.entry(work_order.to_string()).or_default() += 1;
        }
        let twice: Vec<String> = by_number
            .iter()
            .filter(|(_, posts)| posts.len() > 1)
            .map(|(number, posts)| format!("{number} × {}", posts.len()))
            .collect();
        assert!(twice.is_empty(), "invoice numbers committed more than once: {twice:?}");
        let twice: Vec<String> = by_work_order
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(order, count)| format!("{order} × {count}"))
            .collect();
        assert!(twice.is_empty(), "work orders invoiced more than once: {twice:?}");
        assert_eq!(
            committed.len(),
            ORDERS,
            "one committed invoice per work order, {posted_before_kill} of them before the kill"
        );
        assert_eq!(
            by_work_order.keys().collect::<Vec<_>>(),
            orders.keys().collect::<Vec<_>>(),
            "every work order was invoiced"
        );
        for (number, order) in &orders {
            let export = storage::export(&store, administration, *order)
                .await
                .unwrap()
                .expect("ledger row");
            assert_eq!(export.state, ExportState::Exported, "{number}");
            let posts = by_number
                .get(&export.invoice_number)
                .unwrap_or_else(|| panic!("{number}: invoice {} not in AccountView", export.invoice_number));
            let header = &posts[0]["TableData"]["Data"]["Rows"][0]["Values"];
            assert_eq!(
                header[4],
                json!(format!("Werkbon {number}")),
                "{}",
                export.invoice_number
            );
            let invoice = store
                .get_record(administration, &INVOICES, export.invoice)
                .await
                .unwrap();
            let mut excl = 0_i64;
            let mut vat = 0_i64;
            let lines = &posts[0]["TableData"]["DetailData"][0]["Rows"];
            for line in lines.as_array().expect("lines") {
                let values = &line["Values"];
                excl += Money::parse(&values[1].to_string()).unwrap().cents();
                vat += Money::parse(&values[4].to_string()).unwrap().cents();
            }
            assert_eq!(
                excl,
                invoice.get(&INVOICES, "total_excl_vat").as_i64().unwrap(),
                "{number}: excl. VAT"
            );
            assert_eq!(
                vat,
                invoice.get(&INVOICES, "total_vat").as_i64().unwrap(),
                "{number}: VAT"
            );
            assert_eq!(
                excl + vat,
                invoice.get(&INVOICES, "total_incl_vat").as_i64().unwrap(),
                "{number}: the invoice balances"
            );
            let record = store.get_record(administration, &WORK_ORDERS, *order).await.unwrap();
            assert_eq!(record.get(&WORK_ORDERS, "status"), &Value::Text("Afgehandeld".into()));
        }
        drop(first);
        drop(sandbox);
        db.cleanup().await;
    }
}
