//! The AccountView connector against the sandbox (started in-process on loopback, like the tests):
//!
//! - import of 100,000 debtors (the sandbox's `--scale`, here its `debtors` setting): rows/s and the
//!   share of the time spent waiting on the sandbox (measured around every API call; the import reads
//!   the next page while it stores one, so that wait partly overlaps the storing), in pages of 1,000
//!   rows, the most the sandbox serves;
//! - export of 10,000 completed work orders as sales invoices: invoices/s, once clean and once with
//!   the sandbox injecting faults into the posts: every 10th post a 500, every 20th a
//!   commit-then-timeout (stored, then the connection dropped), every 1,000th a 429 with
//!   `Retry-After: 1`; then 1,000 with 50 and with 200 ms of latency on every call; then 600 with
//!   200 ms against the sandbox's rate limit of 600 calls a minute (burst 10), reported as calls/s
//!   and as a share of that limit, counting every call the sandbox saw for the administration, with
//!   Koppel pacing itself at the limit and (300 work orders) without. After every run the sandbox's
//!   committed invoices are counted per invoice number, so duplicates would show.
//!
//! Retries wait 50 ms (doubling) instead of the production default of 1 s, so the figure shows the
//! connector's work rather than its patience. `KOPPEL_BENCH_DEBTORS`, `KOPPEL_BENCH_WORK_ORDERS`,
//! `KOPPEL_BENCH_LATENCY_WORK_ORDERS` and `KOPPEL_BENCH_LIMITED_WORK_ORDERS` change the sizes. SQLite always; PostgreSQL when `KOPPEL_BENCH_DATABASE_URL` or
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

    async fn control(&self, method: &str, path: &str, body: Json) -> anyhow::Result<Json> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
        Ok(response.json().await?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Json> {
        Ok(self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await?
            .json()
            .await?)
    }

    /// Committed invoices beyond the first per invoice number (0 unless exactly-once broke).
    async fn duplicate_invoices(&self) -> anyhow::Result<usize> {
        let posted = self.get("/_sandbox/posted?business_object=DJ2&committed=true").await?;
        let mut per_number: BTreeMap<String, usize> = BTreeMap::new();
        for post in posted.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let number = post["request"]["TableData"]["Data"]["Rows"][0]["Values"][2]
                .as_str()
                .unwrap_or("?")
                .to_string();
            *per_number.entry(number).or_default() += 1;
        }
        Ok(per_number.values().map(|n| n.saturating_sub(1)).sum())
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

/// `count` completed work orders for imported debtors, numbered from `first`, each with an hour
/// line at 21% and a material line at 9% (the hour type and the material are made once).
async fn seed_work_orders(
    store: &Store,
    administration: AdministrationId,
    first: usize,
    count: usize,
) -> anyhow::Result<()> {
    let mut relations = Vec::new();
    let mut tx = store.write(administration).await?;
    for code in ["10001", "10002", "10003", "10004", "10007", "10008"] {
        let record = tx.record_by_code(&resources::RELATIONS, code).await?;
        relations.push(record.context("an imported debtor")?.id);
    }
    let hour_type = tx.record_by_code(&resources::HOUR_TYPES, "MONTAGE").await?;
    let material = tx.record_by_code(&resources::MATERIALS, "KP-CV-KRAAN").await?;
    tx.rollback().await?;
    if hour_type.is_none() {
        av::create(
            store,
            administration,
            "hour-types",
            json!({"code": "MONTAGE", "description": "Montage", "rate": "65.00", "vat_rate": "21", "billable": true}),
        )
        .await;
    }
    let material = match material {
        Some(material) => material.id,
        None => {
            av::create(
                store,
                administration,
                "materials",
                json!({"code": "KP-CV-KRAAN", "description": "Vulkraan cv", "unit": "stuk", "price": "12.35", "vat_rate": "9"}),
            )
            .await
        }
    };
    for index in first..first + count {
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

    // Exports, each against its own sandbox, in sub 1 (disconnected and connected again in between).
    measure_exports(backend, &store, &fixture, work_orders).await?;
    database.cleanup().await;
    Ok(())
}

/// One export measurement: how many work orders, how slow and how strict AccountView is, and how
/// strict Koppel is with itself.
struct ExportCase {
    label: String,
    work_orders: usize,
    /// Added by the sandbox to every API call.
    latency_ms: u64,
    /// The sandbox's rate limit: calls per minute and burst; `None`: off.
    sandbox_limit: Option<(u32, u32)>,
    /// Koppel's own `rate_limit_per_minute`; 0: off.
    client_limit_per_minute: u32,
    faults: bool,
}

/// The export cases: clean and with faults at the full size, then 50 and 200 ms of latency on every
/// call, then 200 ms against a limit of 600 calls a minute (burst 10, so the figure is the sustained
/// rate, not a minute's allowance spent at once) with Koppel pacing itself at that limit, and once
/// without (only AccountView's 429s with `Retry-After` slow it down).
/// `KOPPEL_BENCH_LATENCY_WORK_ORDERS` (default 1,000) and `KOPPEL_BENCH_LIMITED_WORK_ORDERS` (default
/// 600, about a minute at the limit) size the slow cases.
async fn measure_exports(backend: &str, store: &Store, fixture: &Fixture, work_orders: usize) -> anyhow::Result<()> {
    let slow = count_from_env("KOPPEL_BENCH_LATENCY_WORK_ORDERS", 1_000)?;
    let limited = count_from_env("KOPPEL_BENCH_LIMITED_WORK_ORDERS", 600)?;
    let case = |label: &str, work_orders, latency_ms, sandbox_limit, client_limit_per_minute, faults| ExportCase {
        label: label.to_string(),
        work_orders,
        latency_ms,
        sandbox_limit,
        client_limit_per_minute,
        faults,
    };
    let cases = [
        case("clean, 0 ms", work_orders, 0, None, 0, false),
        case("with faults, 0 ms", work_orders, 0, None, 0, true),
        case("clean, 50 ms", slow, 50, None, 0, false),
        case("clean, 200 ms", slow, 200, None, 0, false),
        case(
            "200 ms, limit 600/min, paced at 600/min",
            limited,
            200,
            Some((600, 10)),
            600,
            false,
        ),
        case(
            "200 ms, limit 600/min, not paced",
            limited / 2,
            200,
            Some((600, 10)),
            0,
            false,
        ),
    ];
    let mut seeded = 0;
    for case in cases {
        measure_export(backend, store, fixture, &case, seeded).await?;
        seeded += case.work_orders;
    }
    Ok(())
}

/// One case in sub 1, against a sandbox of its own; `seeded` work orders were made there before.
async fn measure_export(
    backend: &str,
    store: &Store,
    fixture: &Fixture,
    case: &ExportCase,
    seeded: usize,
) -> anyhow::Result<()> {
    let administration = fixture.sub1;
    let sandbox = TestSandbox::start(200).await?;
    let api = Arc::new(TimedApi::new(&sandbox, case.faults)?);
    let mut config = av::test_config(&sandbox.base, REDIRECT_URI);
    config.retry_base = Duration::from_millis(50);
    config.max_retries = 12;
    config.rate_limit_per_minute = case.client_limit_per_minute;
    let concurrency = config.export_concurrency;
    let accountview = AccountView::with_api(config, store.clone(), api.clone())?;
    accountview.disconnect(administration).await?;
    sandbox.connect(&accountview, administration, fixture.admin.id).await;
    let mut settings = export_settings(store);
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
    seed_work_orders(store, administration, seeded, case.work_orders).await?;
    let seeding = seeding.elapsed();
    if case.latency_ms > 0 {
        sandbox
            .control(
                "PUT",
                "/_sandbox/faults/latency",
                json!({"route": "*", "latency_ms": case.latency_ms}),
            )
            .await?;
    }
    if let Some((per_minute, burst)) = case.sandbox_limit {
        sandbox
            .control(
                "PUT",
                "/_sandbox/rate-limit",
                json!({"requests_per_minute": per_minute, "burst": burst}),
            )
            .await?;
    }
    sandbox.control("DELETE", "/_sandbox/calls", json!({})).await?;
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
    let duplicates = sandbox.duplicate_invoices().await?;
    // Every call the sandbox saw for this administration (the token endpoint has no rate limit).
    let calls = sandbox
        .get(&format!("/_sandbox/calls?company_id={VDB_2026_ID}"))
        .await?;
    let calls = calls["calls"].as_array().cloned().unwrap_or_default();
    let refused = calls.iter().filter(|call| call["status"] == 429).count();
    let calls_per_second = per_second(calls.len() as u64, elapsed);
    let limit = match case.sandbox_limit {
        Some((per_minute, _)) => format!(
            "; {calls_per_second:.2} calls/s = {:.0}% of the limit of {:.0}/s; {refused} answered 429",
            100.0 * calls_per_second / (f64::from(per_minute) / 60.0),
            f64::from(per_minute) / 60.0,
        ),
        None => String::new(),
    };
    println!(
        "{backend}: export {} of {} work orders (concurrency {concurrency}; seeded in {:.1} s): {:.2} s, {:.1} \
         invoices/s; {} exported, {} found already there, {} failed; {} posts, {} read-backs, {} calls \
         ({:.2} per invoice); waiting on the sandbox {:.0}% of the time{limit}; {} duplicates in AccountView",
        case.label,
        case.work_orders,
        seeding.as_secs_f64(),
        elapsed.as_secs_f64(),
        per_second(invoices, elapsed),
        total.exported,
        total.confirmed,
        total.failed,
        total.posts,
        total.read_backs,
        calls.len(),
        calls.len() as f64 / (invoices.max(1) as f64),
        // Calls overlap now, so the summed waits can be several times the wall time.
        100.0 * api.waited().as_secs_f64() / elapsed.as_secs_f64().max(1e-9),
        duplicates,
    );
    Ok(())
}
