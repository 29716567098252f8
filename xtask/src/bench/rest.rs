//! `cargo xtask bench rest`: requests per second and latency of
//! `GET /api/v1/administrations/{id}/work-orders?limit=100` under concurrent clients on loopback.
//!
//! Per backend: a fresh database (a temporary SQLite file, or a throw-away PostgreSQL database),
//! `koppel demo --scale N` from the release binary, an API token minted through koppel-store for the
//! benchmark user, `koppel serve` on a free loopback port, then the load generator. The server is
//! stopped and the database removed afterwards, also when something fails, on Ctrl-C and on SIGTERM.

use super::cpu;
use super::load::{self, LoadPlan, LoadReport};
use super::scratch::{Backend, BackendChoice, Scratch, choose_backends};
use super::server::{Server, Stopped};
use crate::cargo::{cargo, display, seconds};
use anyhow::{Context, bail};
use koppel_domain::AdministrationId;
use koppel_domain::rights::Right;
use koppel_store::platform::Administration;
use koppel_store::{ConnectOptions, Store, SystemClock};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Items per page the benchmark asks for, and checks in every answer.
const PAGE_SIZE: usize = 100;

#[derive(clap::Args, Debug, Clone)]
pub struct RestArgs {
    /// Database backend(s). Default: both when KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL
    /// names a PostgreSQL server (a throw-away database is created on it), else sqlite.
    #[arg(long, value_enum)]
    backend: Option<BackendChoice>,
    /// Work orders `koppel demo --scale` generates (at least 100, one full page).
    #[arg(long, default_value = "100000", value_parser = super::parse_count)]
    scale: u64,
    /// Concurrent clients, each on its own keep-alive connection.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    clients: u16,
    /// Measured seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Seconds of load before measuring (warms caches and connection pools).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup_seconds: u64,
    /// Upper bound on requests per backend, warm-up included.
    #[arg(long, default_value = "10000000", value_parser = super::parse_count)]
    max_requests: u64,
}

/// The figures for one backend.
struct Measured {
    backend: Backend,
    demo_elapsed: Duration,
    database_size_bytes: Option<u64>,
    /// The machine's 1-minute load average just before the load started.
    load_before: Option<f64>,
    cpu: Option<CpuUse>,
    report: LoadReport,
    stopped: Stopped,
}

/// Where the CPU went during the load (warm-up included).
struct CpuUse {
    server_per_request: Duration,
    /// Cores the server kept busy on average.
    server_cores: f64,
    /// Cores the load generator (this process) kept busy on average.
    load_generator_cores: f64,
}

impl CpuUse {
    fn between(
        server: (Option<Duration>, Option<Duration>),
        own: (Option<Duration>, Option<Duration>),
        wall: Duration,
        requests: u64,
    ) -> Option<CpuUse> {
        let server = cpu::spent(server.0, server.1)?;
        let own = cpu::spent(own.0, own.1)?;
        if requests == 0 || wall.is_zero() {
            return None;
        }
        Some(CpuUse {
            server_per_request: server / u32::try_from(requests).ok()?,
            server_cores: server.as_secs_f64() / wall.as_secs_f64(),
            load_generator_cores: own.as_secs_f64() / wall.as_secs_f64(),
        })
    }
}

pub fn run(arguments: RestArgs) -> anyhow::Result<()> {
    if arguments.scale < PAGE_SIZE as u64 {
        bail!("--scale must be at least {PAGE_SIZE}: every answer is checked for a full page of work orders");
    }
    let (backends, postgres_url) = choose_backends(arguments.backend, "rest")?;
    let koppel = build_koppel()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut results = Vec::new();
        for backend in backends {
            let measured = measure_backend(backend, postgres_url.as_deref(), &koppel, &arguments).await?;
            print_one(&arguments, &measured);
            results.push(measured);
        }
        print_summary(&arguments, &results);
        Ok(())
    })
}

/// `cargo build --release -p koppel`; returns the binary's path as cargo reports it (so a custom
/// target directory works too). `KOPPEL_BENCH_KOPPEL_BINARY` names a binary built elsewhere instead
/// (an earlier commit's, to compare two builds in one run).
pub(super) fn build_koppel() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("KOPPEL_BENCH_KOPPEL_BINARY") {
        let binary = PathBuf::from(binary);
        anyhow::ensure!(
            binary.is_file(),
            "KOPPEL_BENCH_KOPPEL_BINARY names {}, which is not a file",
            binary.display()
        );
        eprintln!(
            "==> the koppel binary from KOPPEL_BENCH_KOPPEL_BINARY: {}",
            binary.display()
        );
        return Ok(binary);
    }
    let mut command = cargo([
        "build",
        "--release",
        "-p",
        "koppel",
        "--message-format=json-render-diagnostics",
    ]);
    eprintln!("==> {}", display(&command));
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start cargo")?;
    let mut executable = None;
    let stdout = child.stdout.take().context("cargo's output is not piped")?;
    for line in std::io::BufReader::new(stdout).lines() {
        let message: serde_json::Value = serde_json::from_str(&line?).unwrap_or_default();
        let is_koppel_binary = message["reason"] == "compiler-artifact"
            && message["target"]["name"] == "koppel"
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"));
        if is_koppel_binary && let Some(path) = message["executable"].as_str() {
            executable = Some(PathBuf::from(path));
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`cargo build --release -p koppel` failed ({status})");
    }
    eprintln!("<== koppel built in {}", seconds(started.elapsed()));
    executable.context("cargo built koppel but did not say where the binary is")
}

/// One backend from a fresh database to a stopped server; the database is removed whatever happens.
async fn measure_backend(
    backend: Backend,
    postgres_url: Option<&str>,
    koppel: &Path,
    arguments: &RestArgs,
) -> anyhow::Result<Measured> {
    let scratch = Scratch::create(backend, postgres_url).await?;
    eprintln!("\nbench rest [{}]: {}", backend.name(), scratch.describe());
    // Dropping the measurement on Ctrl-C or SIGTERM drops the server guard, which stops the server.
    let outcome = tokio::select! {
        outcome = measure(&scratch, koppel, arguments) => outcome,
        signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    let removed = scratch.remove().await;
    let measured = outcome.with_context(|| format!("the {} REST benchmark failed", backend.name()))?;
    removed?;
    Ok(measured)
}

/// Completes on Ctrl-C or SIGTERM (a CI timeout), naming the signal.
pub(super) async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = terminate.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

async fn measure(scratch: &Scratch, koppel: &Path, arguments: &RestArgs) -> anyhow::Result<Measured> {
    let demo_elapsed = seed(scratch, koppel, arguments.scale).await?;
    let (administration, token) = mint_token(&scratch.database_url).await?;
    let database_size_bytes = scratch.size_bytes().await;

    let mut server = Server::start(koppel, &scratch.database_url, &scratch.directory).await?;
    eprintln!("bench rest: koppel serve is ready on http://{}", server.address);
    let path = format!("/api/v1/administrations/{administration}/work-orders?limit={PAGE_SIZE}");
    let first = load::get(server.address, &path, Some(&token)).await?;
    if first.status != 200 {
        bail!(
            "GET {path} answered {}: {}{}",
            first.status,
            String::from_utf8_lossy(&first.body),
            server.log_tail()
        );
    }
    let plan = LoadPlan {
        address: server.address,
        path,
        token,
        clients: usize::from(arguments.clients),
        warmup: Duration::from_secs(arguments.warmup_seconds),
        duration: Duration::from_secs(arguments.seconds),
        max_requests: arguments.max_requests,
        expected_items: PAGE_SIZE,
    };
    eprintln!(
        "bench rest: {} clients, {} s warm-up, {} s measured: GET {}",
        plan.clients, arguments.warmup_seconds, arguments.seconds, plan.path
    );
    let load_before = load_average();
    if let Some(load_average) = load_before {
        eprintln!(
            "bench rest: machine load before measuring {load_average:.2} (1-minute average, the demo run \
             included); other work on the machine (a build, tests) skews the figures"
        );
    }
    let server_cpu_before = server.cpu_time();
    let own_cpu_before = cpu::cpu_time("self");
    let load_started = Instant::now();
    let report = load::run(plan).await?;
    let cpu = CpuUse::between(
        (server_cpu_before, server.cpu_time()),
        (own_cpu_before, cpu::cpu_time("self")),
        load_started.elapsed(),
        report.completed + report.errors,
    );
    let stopped = tokio::task::block_in_place(|| server.stop())?;
    Ok(Measured {
        backend: scratch.backend,
        demo_elapsed,
        database_size_bytes,
        load_before,
        cpu,
        report,
        stopped,
    })
}

/// `koppel demo --scale N` on the scratch database; returns its wall time.
pub(super) async fn seed(scratch: &Scratch, koppel: &Path, scale: u64) -> anyhow::Result<Duration> {
    let mut command = tokio::process::Command::new(koppel);
    command
        .arg("--data-dir")
        .arg(&scratch.directory)
        .args(["--database-url", &scratch.database_url, "demo", "--scale"])
        .arg(scale.to_string())
        .current_dir(&scratch.directory)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    eprintln!("bench: koppel demo --scale {scale} ({})", scratch.backend.name());
    let started = Instant::now();
    let status = command.status().await.context("could not start koppel demo")?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("koppel demo --scale {scale} failed ({status})");
    }
    eprintln!(
        "bench: demo took {} wall time, migrations and process start included",
        seconds(elapsed)
    );
    Ok(elapsed)
}

/// Finds the benchmark administration `koppel demo --scale` created and mints an API token for a user
/// who may read its data. Done through koppel-store rather than the login endpoint so the benchmark
/// depends on no demo password and no login rate limit.
async fn mint_token(database_url: &str) -> anyhow::Result<(AdministrationId, String)> {
    let options = ConnectOptions {
        url: database_url.to_string(),
        max_connections: 1,
    };
    let store = Store::connect(&options, Arc::new(SystemClock))
        .await
        .context("could not open the benchmark database")?;
    let minted = mint_token_in(&store).await;
    store.close().await;
    minted
}

async fn mint_token_in(store: &Store) -> anyhow::Result<(AdministrationId, String)> {
    let administration = benchmark_main(store).await?;
    for user in store.users(administration.environment_id).await? {
        let rights = store.rights(user.id, administration.id).await?;
        if rights.is_some_and(|rights| rights.has(Right::ReadData)) {
            let (_, secret) = store.create_api_token(user.id, "cargo xtask bench rest").await?;
            return Ok((administration.id, secret));
        }
    }
    bail!(
        "no user of the environment {:?} may read the data of administration {}",
        koppel_demo::BENCHMARK_ENVIRONMENT,
        administration.id
    )
}

/// The main administration `koppel demo --scale` created, which holds the generated data.
pub(super) async fn benchmark_main(store: &Store) -> anyhow::Result<Administration> {
    let name = koppel_demo::BENCHMARK_ENVIRONMENT;
    let environment = store
        .environment_named(name)
        .await?
        .with_context(|| format!("`koppel demo --scale` created no environment named {name:?}"))?;
    store
        .administrations(environment)
        .await?
        .into_iter()
        .find(|administration| administration.is_main)
        .with_context(|| format!("the environment {name:?} has no main administration"))
}

/// The 1-minute load average, where the system reports one (Linux).
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn print_one(arguments: &RestArgs, measured: &Measured) {
    let report = &measured.report;
    println!("\n{}: {} work orders", measured.backend.name(), arguments.scale);
    println!(
        "  requests/s   {:.1}  ({} requests in {})",
        report.requests_per_second(),
        report.requests,
        seconds(report.elapsed)
    );
    println!(
        "  latency      p50 {}  p99 {}  max {}",
        milliseconds(report.percentile(0.50)),
        milliseconds(report.percentile(0.99)),
        milliseconds(report.max())
    );
    println!("  errors       {}", report.errors);
    if let Some(cpu) = &measured.cpu {
        let not_counted = match measured.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " (PostgreSQL's own processes not counted)",
        };
        println!(
            "  cpu          koppel serve {} per request, {:.2} cores busy{not_counted}; load generator {:.2} cores",
            milliseconds(cpu.server_per_request),
            cpu.server_cores,
            cpu.load_generator_cores
        );
    }
    for sample in &report.error_samples {
        println!("    e.g. {sample}");
    }
    if report.hit_request_limit {
        println!("  note: stopped early at --max-requests {}", arguments.max_requests);
    }
    if let Some(size_bytes) = measured.database_size_bytes {
        println!("  database     {:.0} MB", size_bytes as f64 / 1e6);
    }
    println!("  demo         {} wall time", seconds(measured.demo_elapsed));
    if let Some(load_average) = measured.load_before {
        println!("  machine load {load_average:.2} before measuring (1-minute average)");
    }
    match measured.stopped {
        Stopped::Gracefully => println!("  server       stopped on SIGTERM"),
        Stopped::Killed => println!("  server       ignored SIGTERM and was killed"),
        Stopped::AlreadyExited => println!("  server       had already exited: look at its log"),
    }
}

fn print_summary(arguments: &RestArgs, results: &[Measured]) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nREST benchmark: GET /api/v1/administrations/{{id}}/work-orders?limit={PAGE_SIZE}, {} clients on loopback, \
         {} s measured after {} s warm-up, demo --scale {}, {cpus} CPUs shared by server and load generator",
        arguments.clients, arguments.seconds, arguments.warmup_seconds, arguments.scale
    );
    println!(
        "{:<9} {:>11} {:>10} {:>10} {:>10} {:>7} {:>9} {:>13} {:>6}",
        "backend", "requests/s", "p50", "p99", "max", "errors", "requests", "koppel cpu/rq", "load"
    );
    for measured in results {
        let report = &measured.report;
        println!(
            "{:<9} {:>11.1} {:>10} {:>10} {:>10} {:>7} {:>9} {:>13} {:>6}",
            measured.backend.name(),
            report.requests_per_second(),
            milliseconds(report.percentile(0.50)),
            milliseconds(report.percentile(0.99)),
            milliseconds(report.max()),
            report.errors,
            report.requests,
            measured
                .cpu
                .as_ref()
                .map_or_else(|| "-".to_string(), |cpu| milliseconds(cpu.server_per_request)),
            measured
                .load_before
                .map_or_else(|| "-".to_string(), |load| format!("{load:.2}"))
        );
    }
}
