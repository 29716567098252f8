//! The AccountView connector against the sandbox (started in-process on loopback, like the tests):
//!
//! - import of 100,000 debtors (the sandbox's `--scale`, here its `debtors` setting): rows/s and the
//!   share of the time spent waiting on the sandbox (measured around every API call; the import reads
//!   the next page while it stores one, so that wait partly overlaps the storing), in pages of 1,000
//!   rows, the most the sandbox serves;
//! - export of 10,000 completed work orders as sales invoices: invoices/s, once clean and once with
//!   the sandbox injecting faults into the posts: every 10th post a 500, every 20th a
//!   commit-then-timeout (stored, then the connection dropped), every 1,000th a 429 with
//!   `Retry-After: 1`. After the faulty run the sandbox's committed invoices are counted per invoice
//!   number, so duplicates would show.
//!
//! Retries wait 50 ms (doubling) instead of the production default of 1 s, so the figure shows the
//! connector's work rather than its patience. `KOPPEL_BENCH_DEBTORS` and `KOPPEL_BENCH_WORK_ORDERS`
//! change the sizes. SQLite always; PostgreSQL when `KOPPEL_BENCH_DATABASE_URL` or
//! `KOPPEL_TEST_DATABASE_URL` is set.
//!
//! Run in release: `cargo bench -p koppel-accountview --bench accountview` (or
//! `cargo xtask bench accountview`). The figures are printed, never asserted.

#![allow(clippy::unwrap_used, unsafe_code)] // a benchmark stops at the first thing it cannot set up; it sets its
// database URL in the environment before any thread starts

use accountview_sandbox::loopback::{self, LoopbackSandbox};
use accountview_sandbox::{SandboxConfig, VDB_2026_ID};
use anyhow::Context;
use koppel_accountview::api::{ApiFuture, BusinessObjectRights, Company, HttpRequest, ReadQuery, TokenFuture};
use koppel_accountview::{AccountView, AccountViewApi, HttpApi, ImportCategory, Settings};
use koppel_domain::{AdministrationId, UserId, resources};
use koppel_store::Store;
use koppel_test_support::accountview::{self as av, CLIENT_ID, CLIENT_SECRET, DEMO_USER, REDIRECT_URI};
use koppel_test_support::{DATABASE_URL_VARIABLE, Fixture, TestDatabase};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const POST_ROUTE: &str = "POST /api/v3/AccountViewData";

fn count_from_env(name: &str, default: usize) -> anyhow::Result<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.replace(['_', ','], "").parse())
        .transpose()
        .with_context(|| format!("{name} must be a whole number"))
        .map(|v| v.unwrap_or(default))
}

fn main() -> anyhow::Result<()> {
    let debtors = count_from_env("KOPPEL_BENCH_DEBTORS", 100_000)?;
    let work_orders = count_from_env("KOPPEL_BENCH_WORK_ORDERS", 10_000)?;
    if let Ok(url) = std::env::var("KOPPEL_BENCH_DATABASE_URL") {
        // SAFETY: set before the runtime and any other thread start.
        unsafe { std::env::set_var(DATABASE_URL_VARIABLE, url) };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        println!("AccountView benchmark: import of {debtors} debtors; export of {work_orders} work orders");
        measure("SQLite", TestDatabase::sqlite().await, debtors, work_orders).await?;
        match TestDatabase::postgres().await {
            Some(database) => measure("PostgreSQL", database, debtors, work_orders).await?,
            None => println!("PostgreSQL: skipped (set KOPPEL_BENCH_DATABASE_URL or {DATABASE_URL_VARIABLE})"),
        }
        Ok(())
    })
}

/// The real client with a stopwatch around every call, and optionally a fault schedule for posts.
struct TimedApi {
    inner: HttpApi,
    waited_ns: AtomicU64,
    calls: AtomicU64,
    posts: AtomicU64,
    faults: Option<FaultSchedule>,
}

/// Asks the sandbox to fail particular posts before they are sent.
struct FaultSchedule {
    control: reqwest::Client,
    base: String,
}

impl TimedApi {
    fn new(sandbox: &TestSandbox, faults: bool) -> anyhow::Result<TimedApi> {
        Ok(TimedApi {
            inner: HttpApi::new(&sandbox.base, Duration::from_secs(10))?,
            waited_ns: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            faults: faults.then(|| FaultSchedule {
                control: sandbox.http.clone(),
                base: sandbox.base.clone(),
            }),
        })
    }

    fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed))
    }

    fn reset(&self) {
        self.waited_ns.store(0, Ordering::Relaxed);
        self.calls.store(0, Ordering::Relaxed);
        self.posts.store(0, Ordering::Relaxed);
    }

    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, koppel_accountview::AccountViewApiError>>,
    ) -> Result<T, koppel_accountview::AccountViewApiError> {
        let started = Instant::now();
        let result = call.await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.waited_ns.fetch_add(nanos, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        result
    }
}

impl FaultSchedule {
    async fn before_post(&self, number: u64) {
        let (path, body) = if number % 1000 == 500 {
            (
                "/_sandbox/faults/fail-next",
                json!({"route": POST_ROUTE, "count": 1, "status": 429, "retry_after_seconds": 1}),
            )
        } else if number % 10 == 9 {
            (
                "/_sandbox/faults/fail-next",
                json!({"route": POST_ROUTE, "count": 1, "status": 500}),
            )
        } else if number % 20 == 4 {
            (
                "/_sandbox/faults/commit-then-timeout",
                json!({"route": POST_ROUTE, "count": 1, "delay_ms": 0}),
            )
        } else {
            return;
        };
        let _ = self
            .control
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await;
    }
}

impl AccountViewApi for TimedApi {
    fn token(&self, request: HttpRequest) -> TokenFuture<'_> {
        Box::pin(async move { self.timed(self.inner.token(request)).await })
    }

    fn companies<'a>(&'a self, access_token: &'a str) -> ApiFuture<'a, Vec<Company>> {
        Box::pin(async move { self.timed(self.inner.companies(access_token)).await })
    }

    fn business_objects<'a>(
        &'a self,
        access_token: &'a str,
        company: &'a str,
    ) -> ApiFuture<'a, Vec<BusinessObjectRights>> {
        Box::pin(async move { self.timed(self.inner.business_objects(access_token, company)).await })
    }

    fn read<'a>(&'a self, access_token: &'a str, company: &'a str, query: &'a ReadQuery) -> ApiFuture<'a, Json> {
        Box::pin(async move { self.timed(self.inner.read(access_token, company, query)).await })
    }

    fn write<'a>(&'a self, access_token: &'a str, company: &'a str, body: &'a Json) -> ApiFuture<'a, Json> {
        Box::pin(async move {
            let number = self.posts.fetch_add(1, Ordering::Relaxed);
            if let Some(faults) = &self.faults {
                faults.before_post(number).await;
            }
            self.timed(self.inner.write(access_token, company, body)).await
        })
    }
}

/// The sandbox on loopback (`accountview_sandbox::loopback`) with its control client.
struct TestSandbox {
    sandbox: LoopbackSandbox,
    base: String,
    http: reqwest::Client,
}

impl TestSandbox {
    async fn start(debtors: usize) -> anyhow::Result<TestSandbox> {
        let config = SandboxConfig {
            debtors,
            ..loopback::config_for_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
        };
        let sandbox = LoopbackSandbox::start(config).await?;
        Ok(TestSandbox {
            base: sandbox.base().to_string(),
            http: sandbox.http().clone(),
            sandbox,
        })
    }

    /// The connector with the tests' configuration, but retries after 50 ms (at most 12) and pages
    /// of 1,000 rows, so the figure shows the connector's work rather than its patience.
    fn connector(&self, store: &Store, api: Arc<TimedApi>) -> anyhow::Result<AccountView> {
        let mut config = av::test_config(&self.base, REDIRECT_URI);
        config.retry_base = Duration::from_millis(50);
        config.max_retries = 12;
        config.page_size = 1000;
        Ok(AccountView::with_api(config, store.clone(), api)?)
    }

    /// Signs in through the sandbox's login and consent pages.
    async fn connect(&self, accountview: &AccountView, administration: AdministrationId, user: UserId) {
        av::connect(accountview, administration, user, |url| async move {
            self.sandbox.consent(&url, DEMO_USER, "approve").await.expect("consent")
        })
        .await;
    }
}

/// The shared export settings, export still off (the import comes first).
fn export_settings(store: &Store) -> Settings {
    let mut settings = av::export_settings(store.now() - chrono::Duration::hours(1));
    settings.export.enabled = false;
    settings
}

/// `count` completed work orders for imported debtors, each with an hour line at 21% and a
/// material line at 9%.
async fn seed_work_orders(store: &Store, administration: AdministrationId, count: usize) -> anyhow::Result<()> {
    let mut relations = Vec::new();
    for code in ["10001", "10002", "10003", "10004", "10007", "10008"] {
        let mut tx = store.write(administration).await?;
        let record = tx.record_by_code(&resources::RELATIONS, code).await?;
        tx.rollback().await?;
        relations.push(record.context("an imported debtor")?.id);
    }
    av::create(
        store,
        administration,
        "hour-types",
        json!({"code": "MONTAGE", "description": "Montage", "rate": "65.00", "vat_rate": "21", "billable": true}),
    )
    .await;
    let material = av::create(
        store,
        administration,
        "materials",
        json!({"code": "KP-CV-KRAAN", "description": "Vulkraan cv", "unit": "stuk", "price": "12.35", "vat_rate": "9"}),
    )
    .await;
    for index in 0..count {
        let order = av::create(
            store,
            administration,
            "work-orders",
            json!({"number": format!("WB-{index:06}"), "relation_id": relations[index % relations.len()],
                   "description": "Onderhoud cv-ketel", "status": "Compleet"}),
        )
        .await;
        av::create(
            store,
            administration,
            "work-order-hours",
            json!({"work_order_id": order, "hour_type_code": "MONTAGE", "work_date": "2026-03-14",
                   "hours": format!("1.{}", index % 10), "rate": "65.00", "vat_rate": "21"}),
        )
        .await;
        av::create(
            store,
            administration,
            "work-order-materials",
            json!({"work_order_id": order, "material_id": material, "quantity": "3", "price": "12.35", "vat_rate": "9"}),
        )
        .await;
    }
    Ok(())
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

async fn measure(backend: &str, database: TestDatabase, debtors: usize, work_orders: usize) -> anyhow::Result<()> {
    let store = database.store().clone();
    let fixture = Fixture::create(&store).await;

    // Import: the code lists first (not timed), then every debtor.
    let sandbox = TestSandbox::start(debtors).await?;
    let api = Arc::new(TimedApi::new(&sandbox, false)?);
    let accountview = sandbox.connector(&store, api.clone())?;
    sandbox.connect(&accountview, fixture.main, fixture.admin.id).await;
    let mut settings = export_settings(&store);
    settings.import.include_blocked_debtors = true;
    accountview.save(fixture.main, VDB_2026_ID, &settings).await?;
    let lists = [
        ImportCategory::VatCodes,
        ImportCategory::LedgerAccounts,
        ImportCategory::Journals,
        ImportCategory::CostCentres,
    ];
    accountview.import(fixture.main, &lists, None).await?;
    api.reset();
    let started = Instant::now();
    let counts = accountview
        .import(fixture.main, &[ImportCategory::Debtors], None)
        .await?;
    let elapsed = started.elapsed();
    let debtor_counts = counts.get(&ImportCategory::Debtors).cloned().unwrap_or_default();
    println!(
        "{backend}: import of {} debtors in {} pages: {:.2} s, {:.0} rows/s; waiting on the sandbox {:.2} s ({:.0}% of the time, {} calls)",
        debtor_counts.fetched,
        debtor_counts.pages,
        elapsed.as_secs_f64(),
        per_second(debtor_counts.fetched, elapsed),
        api.waited().as_secs_f64(),
        100.0 * api.waited().as_secs_f64() / elapsed.as_secs_f64().max(1e-9),
        api.calls.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    let again = accountview
        .import(fixture.main, &[ImportCategory::Debtors], None)
        .await?;
    println!(
        "{backend}: incremental import right after: {} rows fetched in {:.3} s",
        again.get(&ImportCategory::Debtors).map_or(0, |c| c.fetched),
        started.elapsed().as_secs_f64()
    );
    drop(accountview);
    drop(sandbox);

    // Export, clean (main administration) and with faults (sub 1), each against its own sandbox.
    for (label, administration, faults) in [("clean", fixture.main, false), ("with faults", fixture.sub1, true)] {
        let sandbox = TestSandbox::start(200).await?;
        let api = Arc::new(TimedApi::new(&sandbox, faults)?);
        let accountview = sandbox.connector(&store, api.clone())?;
        if administration == fixture.main {
            accountview.disconnect(administration).await?;
        }
        sandbox.connect(&accountview, administration, fixture.admin.id).await;
        let mut settings = export_settings(&store);
        settings.import.categories = vec![
            ImportCategory::VatCodes,
            ImportCategory::LedgerAccounts,
            ImportCategory::Journals,
            ImportCategory::CostCentres,
            ImportCategory::Debtors,
        ];
        accountview.save(administration, VDB_2026_ID, &settings).await?;
        accountview.import(administration, &[], None).await?;
        settings.export.enabled = true;
        accountview.save(administration, VDB_2026_ID, &settings).await?;
        let seeding = Instant::now();
        seed_work_orders(&store, administration, work_orders).await?;
        let seeding = seeding.elapsed();
        api.reset();
        let started = Instant::now();
        let mut total = koppel_accountview::export::ExportCounts::default();
        // The job is retried while work orders are still open; here the loop plays the worker.
        for _ in 0..20 {
            let counts = accountview.export(administration, None).await?;
            total.exported += counts.exported;
            total.confirmed += counts.confirmed;
            total.failed += counts.failed;
            total.posts += counts.posts;
            total.read_backs += counts.read_backs;
            if counts.pending == 0 {
                break;
            }
        }
        let elapsed = started.elapsed();
        let invoices = total.exported + total.confirmed;
        let posted = sandbox
            .http
            .get(format!(
                "{}/_sandbox/posted?business_object=DJ2&committed=true",
                sandbox.base
            ))
            .send()
            .await?
            .json::<Json>()
            .await?;
        let mut per_number: BTreeMap<String, usize> = BTreeMap::new();
        for post in posted.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let number = post["request"]["TableData"]["Data"]["Rows"][0]["Values"][2]
                .as_str()
                .unwrap_or("?")
                .to_string();
            *per_number.entry(number).or_default() += 1;
        }
        let duplicates: usize = per_number.values().map(|n| n.saturating_sub(1)).sum();
        println!(
            "{backend}: export {label} of {work_orders} work orders (seeded in {:.1} s): {:.2} s, {:.0} invoices/s; \
             {} exported, {} found already there, {} failed; {} posts, {} read-backs; waiting on the sandbox {:.0}% \
             of the time; sandbox holds {} invoices for {} numbers ({} duplicates)",
            seeding.as_secs_f64(),
            elapsed.as_secs_f64(),
            per_second(invoices, elapsed),
            total.exported,
            total.confirmed,
            total.failed,
            total.posts,
            total.read_backs,
            100.0 * api.waited().as_secs_f64() / elapsed.as_secs_f64().max(1e-9),
            per_number.values().sum::<usize>(),
            per_number.len(),
            duplicates,
        );
    }
    database.cleanup().await;
    Ok(())
}
