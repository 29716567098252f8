//! `cargo xtask bench tenants`: many administrations on one PostgreSQL, the way a SaaS operator runs
//! Koppel. N administrations (default 1,000), each a small installer (relations, materials, ~200 work
//! orders with a material line each) with Autosync on at a short interval (default 60 s); one
//! `koppel serve --no-worker` and two `koppel worker` processes against the database; a writer
//! changing work orders in a random tenth of the administrations every interval; a feed reader asking
//! Power BI's first page of WorkOrders of a few administrations several times a second (from the
//! second interval on). After the
//! given minutes everything is stopped and the run history is read back:
//!
//! - per interval: Autosync syncs due (one per administration), fired, succeeded, failed, and the lag
//!   from the slot a sync was due at to the moment it finished (p50, p99, max);
//! - missed intervals: an administration's interval without a successful Autosync (the first interval,
//!   when every administration's first sync is a full one, and the last, still running at the stop,
//!   are shown but not counted);
//! - the queue's depth (due queued jobs, running jobs), sampled every 2 s;
//! - CPU of each Koppel process and of PostgreSQL's processes, as a share of one core;
//! - feed reads served alongside (p50, p99, errors) and the writer's updates.
//!
//! Nothing is asserted; the figures are printed.

use super::cpu;
use super::load::Reader;
use super::rest::{build_koppel, interrupted};
use super::scratch::{Backend, BackendChoice, Scratch, choose_backends};
use super::server::{Launch, Server, free_loopback_port};
use anyhow::{Context, bail};
use base64::Engine;
use hyper::header::HeaderValue;
use koppel_datasync::state::AutosyncSwitch;
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::record::{Value, parse_create};
use koppel_domain::resources::{MATERIALS, RELATIONS, WORK_ORDER_MATERIALS, WORK_ORDERS};
use koppel_domain::{AdministrationId, RecordId};
use koppel_store::platform::{Actor, NewAdministration};
use koppel_store::{ConnectOptions, Store, SystemClock};
use sqlx::types::chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Administrations per environment: a licence covers at most 1,000.
const PER_ENVIRONMENT: u64 = 1_000;
/// Administrations with a feed token the reader reads from.
const FEED_TENANTS: usize = 10;

#[derive(clap::Args, Debug, Clone)]
pub struct TenantsArgs {
    /// Administrations, each with Autosync on.
    #[arg(long, default_value = "1000", value_parser = super::parse_count)]
    tenants: u64,
    /// Work orders per administration (each with one material line).
    #[arg(long, default_value = "200", value_parser = super::parse_count)]
    work_orders: u64,
    /// How long the processes run, in minutes.
    #[arg(long, default_value = "10", value_parser = clap::value_parser!(u64).range(1..=240))]
    minutes: u64,
    /// The Autosync interval, in seconds (datasync.autosync_interval_seconds).
    #[arg(long, default_value = "60", value_parser = clap::value_parser!(u64).range(5..=3600))]
    interval: u64,
    /// `koppel worker` processes.
    #[arg(long, default_value = "2", value_parser = clap::value_parser!(u64).range(1..=16))]
    workers: u64,
    /// The scheduler's tick, in seconds (jobs.scheduler_tick_seconds): how late a due slot may be noticed.
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u64).range(1..=60))]
    scheduler_tick: u64,
    /// Feed reads per second alongside (first page of WorkOrders, 100 rows).
    #[arg(long, default_value = "5", value_parser = clap::value_parser!(u64).range(0..=1000))]
    feed_reads: u64,
}

/// One administration of the benchmark and the work orders the writer may change.
struct Tenant {
    id: AdministrationId,
    work_orders: Vec<RecordId>,
}

/// One Autosync run read back from the history.
#[derive(sqlx::FromRow)]
struct SyncRun {
    administration: Option<i64>,
    scheduled_for: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    status: String,
}

pub fn run(arguments: TenantsArgs) -> anyhow::Result<()> {
    let (_, postgres_url) = choose_backends(Some(BackendChoice::Postgres), "tenants")?;
    let koppel = build_koppel()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let scratch = Scratch::create(Backend::Postgres, postgres_url.as_deref()).await?;
        eprintln!("bench tenants: {}", scratch.describe());
        let outcome = tokio::select! {
            outcome = measure(&scratch, &koppel, &arguments) => outcome,
            signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
        };
        let removed = scratch.remove().await;
        outcome.context("the tenants benchmark failed")?;
        removed
    })
}

async fn measure(scratch: &Scratch, koppel: &std::path::Path, arguments: &TenantsArgs) -> anyhow::Result<()> {
    let store = Store::connect(
        &ConnectOptions {
            url: scratch.database_url.clone(),
            max_connections: 8,
        },
        Arc::new(SystemClock),
    )
    .await
    .context("could not open the benchmark database")?;
    store.migrate().await?;
    let seeding = Instant::now();
    let tenants = seed(&store, arguments).await?;
    eprintln!(
        "bench tenants: seeded {} administrations × {} work orders in {:.1} s",
        tenants.len(),
        arguments.work_orders,
        seeding.elapsed().as_secs_f64()
    );
    let mut feeds = Vec::new();
    for tenant in tenants.iter().take(FEED_TENANTS) {
        let (_, secret) = koppel_datasync::tokens::create(&store, tenant.id, "cargo xtask bench tenants", None).await?;
        feeds.push((format!("koppel-{}", tenant.id.0), secret));
    }

    let env = vec![
        (
            "KOPPEL_DATASYNC_AUTOSYNC_INTERVAL_SECONDS".to_string(),
            arguments.interval.to_string(),
        ),
        (
            "KOPPEL_JOBS_SCHEDULER_TICK_SECONDS".to_string(),
            arguments.scheduler_tick.to_string(),
        ),
        ("RUST_LOG".to_string(), "warn".to_string()),
    ];
    let port = free_loopback_port()?;
    let serve_args = [
        "serve",
        "--no-worker",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ]
    .map(String::from);
    let serve = Server::launch(
        koppel,
        &scratch.database_url,
        &scratch.directory,
        Launch {
            name: "koppel serve --no-worker".to_string(),
            args: serve_args.to_vec(),
            env: env.clone(),
            log_file: "serve.log".to_string(),
            port,
            ready_path: "/readyz",
        },
    )
    .await?;
    // Autosync is switched on just before the workers start. Each administration's slots follow its
    // switching on (due at once, then every interval), so the run's intervals count from the first.
    let started_at = Utc::now();
    let started = Instant::now();
    for tenant in &tenants {
        koppel_datasync::state::set_autosync(&store, tenant.id, AutosyncSwitch::On, None).await?;
    }
    let mut workers = Vec::new();
    for n in 1..=arguments.workers {
        let port = free_loopback_port()?;
        let mut env = env.clone();
        env.push(("KOPPEL_JOBS_METRICS_PORT".to_string(), port.to_string()));
        workers.push(
            Server::launch(
                koppel,
                &scratch.database_url,
                &scratch.directory,
                Launch {
                    name: format!("koppel worker {n}"),
                    args: vec!["worker".to_string()],
                    env,
                    log_file: format!("worker-{n}.log"),
                    port,
                    ready_path: "/healthz",
                },
            )
            .await?,
        );
    }
    eprintln!(
        "bench tenants: serve --no-worker on {}, {} workers; running {} min with Autosync every {} s",
        serve.address,
        workers.len(),
        arguments.minutes,
        arguments.interval
    );
    let postgres_before = postgres_cpu();
    let mut koppel_before: Vec<Option<Duration>> = vec![serve.cpu_time()];
    koppel_before.extend(workers.iter().map(Server::cpu_time));
    let machine_before = machine_busy();

    let stop = Arc::new(AtomicBool::new(false));
    let run_for = Duration::from_secs(arguments.minutes * 60);
    let writer = tokio::spawn(write_changes(
        store.clone(),
        Arc::new(tenants),
        Duration::from_secs(arguments.interval),
        stop.clone(),
    ));
    let reader = tokio::spawn(read_feeds(
        serve.address,
        feeds,
        arguments.feed_reads,
        Duration::from_secs(arguments.interval),
        stop.clone(),
    ));
    let sampler = tokio::spawn(sample_queue(store.clone(), stop.clone()));
    let mut last_report = Instant::now();
    while started.elapsed() < run_for {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for process in std::iter::once(&serve).chain(&workers) {
            if process.pid().is_none() {
                bail!("a Koppel process stopped during the run{}", process.log_tail());
            }
        }
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            eprintln!(
                "bench tenants: {:.0} s of {} s",
                started.elapsed().as_secs_f64(),
                run_for.as_secs()
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    let elapsed = started.elapsed();
    let machine_after = machine_busy();
    let mut koppel_after: Vec<Option<Duration>> = vec![serve.cpu_time()];
    koppel_after.extend(workers.iter().map(Server::cpu_time));
    let postgres_after = postgres_cpu();
    let (updates, updated_tenants) = writer.await??;
    let reads = reader.await??;
    let depth = sampler.await??;
    drop(workers);
    drop(serve);

    let runs = autosync_runs(&store).await?;
    store.close().await;
    let observed = Observed {
        started_at,
        elapsed,
        runs,
        depth,
        cpu: Cpu {
            koppel: koppel_before
                .iter()
                .zip(&koppel_after)
                .map(|(before, after)| cpu::spent(*before, *after))
                .collect(),
            postgres: postgres_after.saturating_sub(postgres_before),
            machine: machine_after.zip(machine_before).map(|(after, before)| after - before),
        },
        reads,
        writes: (updates, updated_tenants),
    };
    print_report(arguments, &observed);
    Ok(())
}

/// The administrations, spread over environments of at most [`PER_ENVIRONMENT`], each with its data.
async fn seed(store: &Store, arguments: &TenantsArgs) -> anyhow::Result<Vec<Tenant>> {
    let mut environments = Vec::new();
    let mut mains = BTreeMap::new();
    for n in 0..arguments.tenants.div_ceil(PER_ENVIRONMENT) {
        let environment = store.create_environment(&format!("Tenants {}", n + 1)).await?;
        // Power BI for Data Sync; sub-administrations to hold more than the main.
        for power_up in [PowerUp::PowerBi, PowerUp::SubAdministrations] {
            let capacity = i64::try_from(PER_ENVIRONMENT)?;
            store
                .set_licence(environment, power_up, LicenceState::Active, capacity, Actor::SYSTEM)
                .await?;
        }
        environments.push(environment);
        // Each environment's first administration is its main, created before its subs.
        let main = NewAdministration {
            environment,
            name: &format!("Installateur {:05}", n * PER_ENVIRONMENT + 1),
            is_main: true,
        };
        mains.insert(
            n * PER_ENVIRONMENT,
            store.create_administration(main, Actor::SYSTEM).await?.id,
        );
    }
    let next = AtomicU64::new(0);
    let lane = || async {
        let mut tenants = Vec::new();
        loop {
            let n = next.fetch_add(1, Ordering::SeqCst);
            if n >= arguments.tenants {
                return Ok::<_, anyhow::Error>(tenants);
            }
            let administration = match mains.get(&n) {
                Some(main) => *main,
                None => {
                    let environment = environments[usize::try_from(n / PER_ENVIRONMENT)?];
                    let new = NewAdministration {
                        environment,
                        name: &format!("Installateur {:05}", n + 1),
                        is_main: false,
                    };
                    store.create_administration(new, Actor::SYSTEM).await?.id
                }
            };
            tenants.push(seed_tenant(store, administration, arguments.work_orders).await?);
            if (n + 1).is_multiple_of(250) {
                eprintln!(
                    "bench tenants: {} of {} administrations seeded",
                    n + 1,
                    arguments.tenants
                );
            }
        }
    };
    // Four administrations at once.
    let (a, b, c, d) = futures_util::future::try_join4(lane(), lane(), lane(), lane()).await?;
    let mut tenants: Vec<Tenant> = [a, b, c, d].into_iter().flatten().collect();
    tenants.sort_by_key(|tenant| tenant.id.0);
    Ok(tenants)
}

/// One small installer: 20 relations, 10 materials, and `work_orders` work orders with a line each.
async fn seed_tenant(store: &Store, administration: AdministrationId, work_orders: u64) -> anyhow::Result<Tenant> {
    let create = |spec, body: serde_json::Value| {
        parse_create(spec, &body).map_err(|errors| anyhow::anyhow!("benchmark data does not validate: {errors:?}"))
    };
    let mut tx = store.write(administration).await?;
    let mut relations = Vec::new();
    for n in 0..20 {
        let values = create(
            &RELATIONS,
            serde_json::json!({"code": format!("K{n:04}"), "name": format!("Klant {n}"), "kind": "company"}),
        )?;
        relations.push(tx.insert(&RELATIONS, values).await?.id);
    }
    let mut materials = Vec::new();
    for n in 0..10 {
        let values = create(
            &MATERIALS,
            serde_json::json!({"code": format!("M{n:03}"), "description": format!("Materiaal {n}"),
                "unit": "stuk", "price": "12.50", "vat_rate": "21"}),
        )?;
        materials.push(tx.insert(&MATERIALS, values).await?.id);
    }
    let mut orders = Vec::new();
    for n in 0..work_orders {
        let index = usize::try_from(n)?;
        let values = create(
            &WORK_ORDERS,
            serde_json::json!({"number": format!("W{n:06}"), "relation_id": relations[index % relations.len()].0,
                "description": "Onderhoud cv-ketel", "status": "Klaargezet"}),
        )?;
        let order = tx.insert(&WORK_ORDERS, values).await?.id;
        let values = create(
            &WORK_ORDER_MATERIALS,
            serde_json::json!({"work_order_id": order.0, "material_id": materials[index % materials.len()].0,
                "quantity": "2", "price": "12.50", "vat_rate": "21"}),
        )?;
        tx.insert(&WORK_ORDER_MATERIALS, values).await?;
        orders.push(order);
    }
    tx.commit().await?;
    Ok(Tenant {
        id: administration,
        work_orders: orders,
    })
}

/// Every interval, a random tenth of the administrations get 5 work orders changed, spread evenly
/// over the interval. Returns the updates made and the administrations changed.
async fn write_changes(
    store: Store,
    tenants: Arc<Vec<Tenant>>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(u64, u64)> {
    let per_interval = (tenants.len() / 10).max(1);
    let pause = interval / u32::try_from(per_interval)?;
    let (mut updates, mut changed) = (0_u64, 0_u64);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut random = move |below: usize| {
        // xorshift: enough to pick tenants, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % u64::try_from(below).unwrap_or(1)).unwrap_or(0)
    };
    while !stop.load(Ordering::SeqCst) {
        let tenant = &tenants[random(tenants.len())];
        for _ in 0..5 {
            let order = tenant.work_orders[random(tenant.work_orders.len())];
            let mut patch = vec![None; WORK_ORDERS.fields.len()];
            patch[WORK_ORDERS.field_index("description")] = Some(Value::Text(format!("Bijgewerkt {updates}")));
            store.update_record(tenant.id, &WORK_ORDERS, order, patch).await?;
            updates += 1;
        }
        changed += 1;
        tokio::time::sleep(pause).await;
    }
    Ok((updates, changed))
}

/// What the feed reader saw.
#[derive(Default)]
struct Reads {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Power BI's first page of WorkOrders (100 rows) of the administrations with a feed token, in turn,
/// `per_second` times a second.
async fn read_feeds(
    address: std::net::SocketAddr,
    feeds: Vec<(String, String)>,
    per_second: u64,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Reads> {
    let mut reads = Reads::default();
    if per_second == 0 || feeds.is_empty() {
        return Ok(reads);
    }
    // The first interval holds every administration's first sync; read from the second on.
    tokio::time::sleep(interval).await;
    let mut readers = Vec::new();
    for (feed, secret) in &feeds {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{feed}:{secret}"));
        let reader = Reader::connect(address, HeaderValue::from_str(&format!("Basic {credentials}"))?).await?;
        readers.push((feed.clone(), reader));
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / u32::try_from(per_second)?);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut turn = 0_usize;
    while !stop.load(Ordering::SeqCst) {
        ticker.tick().await;
        let (feed, reader) = &mut readers[turn % feeds.len()];
        turn += 1;
        let path = format!("/odata/v4/{feed}/WorkOrders?$top=100");
        let asked = Instant::now();
        match reader.get(&path).await {
            Ok(answer) if answer.status == 200 => reads.latencies.push(asked.elapsed()),
            Ok(answer) => {
                reads.errors += 1;
                reads.first_error.get_or_insert_with(|| {
                    format!(
                        "GET {path}: {} {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    )
                });
            }
            Err(error) => {
                reads.errors += 1;
                reads
                    .first_error
                    .get_or_insert_with(|| format!("GET {path}: {error:#}"));
            }
        }
    }
    Ok(reads)
}

/// The queue every 2 s: (seconds since start, due queued jobs, running jobs).
async fn sample_queue(store: Store, stop: Arc<AtomicBool>) -> anyhow::Result<Vec<(f64, i64, i64)>> {
    let koppel_store::sql::Pool::Postgres(pool) = store.pool() else {
        bail!("the tenants benchmark runs on PostgreSQL");
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let (queued, running): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'queued' AND run_at <= now()), \
             COUNT(*) FILTER (WHERE status = 'running') FROM jobs WHERE status IN ('queued', 'running')",
        )
        .fetch_one(pool)
        .await?;
        samples.push((started.elapsed().as_secs_f64(), queued, running));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(samples)
}

async fn autosync_runs(store: &Store) -> anyhow::Result<Vec<SyncRun>> {
    let koppel_store::sql::Pool::Postgres(pool) = store.pool() else {
        bail!("the tenants benchmark runs on PostgreSQL");
    };
    let runs = sqlx::query_as::<_, SyncRun>(
        "SELECT administration_id AS administration, scheduled_for, finished_at, status FROM runs \
         WHERE kind = $1 AND scheduled_for IS NOT NULL ORDER BY scheduled_for",
    )
    .bind(koppel_datasync::KIND)
    .fetch_all(pool)
    .await?;
    Ok(runs)
}

/// CPU time of all PostgreSQL processes now alive (backends that ended during the run are missing,
/// so this is a lower bound; Koppel's pools keep their connections, so little is lost).
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().into_string().ok()?;
            pid.parse::<u32>().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "postgres").then(|| cpu::cpu_time(&pid)).flatten()
        })
        .sum()
}

/// Busy CPU time of the whole machine (all cores, everything but idle and iowait).
fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != 3 && *index != 4)
        .map(|(_, ticks)| ticks)
        .sum();
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(busy * 10))
}

/// Everything a run observed, for the report.
struct Observed {
    started_at: DateTime<Utc>,
    elapsed: Duration,
    runs: Vec<SyncRun>,
    /// (seconds since start, due queued jobs, running jobs).
    depth: Vec<(f64, i64, i64)>,
    cpu: Cpu,
    reads: Reads,
    /// Work orders updated, administration changes.
    writes: (u64, u64),
}

struct Cpu {
    /// serve, then each worker.
    koppel: Vec<Option<Duration>>,
    postgres: Duration,
    machine: Option<Duration>,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}

fn lag_text(lags: &mut [Duration]) -> String {
    if lags.is_empty() {
        return "-".to_string();
    }
    lags.sort();
    format!(
        "p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        percentile(lags, 0.5).as_secs_f64(),
        percentile(lags, 0.99).as_secs_f64(),
        percentile(lags, 1.0).as_secs_f64()
    )
}

#[allow(clippy::too_many_lines)] // one table after another, in the order they are printed
fn print_report(arguments: &TenantsArgs, observed: &Observed) {
    let Observed {
        started_at,
        elapsed,
        runs,
        depth,
        cpu: cpu_used,
        reads,
        writes: (updates, updated_tenants),
    } = observed;
    let (started_at, elapsed) = (*started_at, *elapsed);
    let interval = arguments.interval as f64;
    let intervals = (elapsed.as_secs_f64() / interval).ceil() as usize;
    let bucket = |at: DateTime<Utc>| {
        let seconds = (at - started_at).num_milliseconds() as f64 / 1000.0;
        (seconds.max(0.0) / interval) as usize
    };
    println!(
        "\nTenants benchmark: {} administrations × {} work orders on PostgreSQL, Autosync every {} s, scheduler tick {} s, \
         1 koppel serve --no-worker + {} koppel worker, {:.0} s",
        arguments.tenants,
        arguments.work_orders,
        arguments.interval,
        arguments.scheduler_tick,
        arguments.workers,
        elapsed.as_secs_f64()
    );
    println!(
        "{:<10} {:>6} {:>6} {:>9} {:>7}  {:<42} {:>12}",
        "interval", "due", "fired", "succeeded", "failed", "lag due → done", "queue max"
    );
    let mut steady_lags = Vec::new();
    for index in 0..intervals {
        let in_bucket: Vec<&SyncRun> = runs.iter().filter(|run| bucket(run.scheduled_for) == index).collect();
        let succeeded: Vec<&&SyncRun> = in_bucket.iter().filter(|run| run.status == "succeeded").collect();
        let failed = in_bucket
            .iter()
            .filter(|run| run.status == "failed" || run.status == "cancelled")
            .count();
        let mut lags: Vec<Duration> = succeeded
            .iter()
            .filter_map(|run| (run.finished_at? - run.scheduled_for).to_std().ok())
            .collect();
        let steady = index > 0 && index + 1 < intervals;
        if steady {
            steady_lags.extend(lags.iter().copied());
        }
        let queue_max = depth
            .iter()
            .filter(|(at, _, _)| (*at / interval) as usize == index)
            .map(|(_, queued, _)| *queued)
            .max()
            .unwrap_or(0);
        let label = match (index, steady) {
            (0, _) => format!("{} (first)", index + 1),
            (_, false) => format!("{} (last)", index + 1),
            _ => (index + 1).to_string(),
        };
        println!(
            "{label:<10} {:>6} {:>6} {:>9} {:>7}  {:<42} {:>12}",
            arguments.tenants,
            in_bucket.len(),
            succeeded.len(),
            failed,
            lag_text(&mut lags),
            queue_max
        );
    }

    // Missed: an administration's steady interval without a successful Autosync.
    let mut per_tenant: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for run in runs.iter().filter(|run| run.status == "succeeded") {
        per_tenant
            .entry(run.administration.unwrap_or(0))
            .or_default()
            .push(bucket(run.scheduled_for));
    }
    let steady_intervals: Vec<usize> = (1..intervals.saturating_sub(1)).collect();
    let mut missed = 0_u64;
    let mut tenants_missing = 0_u64;
    // Administrations without any successful Autosync miss every steady interval.
    let seen = per_tenant.len() as u64;
    for buckets in per_tenant.values() {
        let gaps = steady_intervals.iter().filter(|index| !buckets.contains(index)).count() as u64;
        missed += gaps;
        if gaps > 0 {
            tenants_missing += 1;
        }
    }
    let never = arguments.tenants.saturating_sub(seen);
    missed += never * steady_intervals.len() as u64;
    tenants_missing += never;
    let due = arguments.tenants * steady_intervals.len() as u64;
    println!(
        "steady intervals {}–{}: {} Autosyncs succeeded of {due} due; missed intervals: {missed} \
         ({tenants_missing} administrations missed at least one); lag {}",
        steady_intervals.first().map_or(0, |index| index + 1),
        steady_intervals.last().map_or(0, |index| index + 1),
        due - missed,
        lag_text(&mut steady_lags)
    );
    let (queued_max, running_max) = depth.iter().fold((0, 0), |(queued, running), sample| {
        (queued.max(sample.1), running.max(sample.2))
    });
    let queued_mean = depth.iter().map(|sample| sample.1 as f64).sum::<f64>() / depth.len().max(1) as f64;
    println!(
        "queue (every 2 s): due queued jobs mean {queued_mean:.1}, max {queued_max}; running jobs max {running_max}"
    );
    let share = |time: Option<Duration>| {
        time.map_or_else(
            || "-".to_string(),
            |time| format!("{:.0} %", 100.0 * time.as_secs_f64() / elapsed.as_secs_f64()),
        )
    };
    let mut names = vec!["serve --no-worker".to_string()];
    names.extend((1..=arguments.workers).map(|n| format!("worker {n}")));
    let processes: Vec<String> = names
        .iter()
        .zip(&cpu_used.koppel)
        .map(|(name, time)| format!("{name} {}", share(*time)))
        .collect();
    println!(
        "CPU, share of one core: {}; PostgreSQL {}; whole machine {} of {} cores",
        processes.join(", "),
        share(Some(cpu_used.postgres)),
        share(cpu_used.machine),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    let mut latencies = reads.latencies.clone();
    latencies.sort();
    let milliseconds = |fraction| percentile(&latencies, fraction).as_secs_f64() * 1000.0;
    println!(
        "feed reads alongside (first page of WorkOrders): {} answered, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors{}",
        latencies.len(),
        milliseconds(0.5),
        milliseconds(0.99),
        milliseconds(1.0),
        reads.errors,
        reads
            .first_error
            .as_deref()
            .map_or(String::new(), |error| format!(" (first: {error})"))
    );
    println!("writer: {updates} work orders updated in {updated_tenants} administration changes");
}
