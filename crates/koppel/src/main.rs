//! The `koppel` binary: wiring only. Configuration, logging, and the subcommands that start the
//! parts that live in the library crates: `serve` (web, worker and scheduler), `worker` (worker
//! and scheduler), `migrate`, `demo`, `check-config`, `generate-key`.

mod config;
mod demo;
mod worker_status;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::{Config, Flags};
use koppel_store::{ConnectOptions, Store, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "koppel",
    version,
    about = "Koppel: Data Sync for Power BI, settings sync to sub-administrations, AccountView"
)]
struct Cli {
    /// A TOML configuration file (see `koppel check-config` for every setting).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Directory for local files (the SQLite database when no database URL is set).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite:… or postgres://… (default: SQLite in the data directory).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Log format: human or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the web server (REST API, feed, pages).
    Serve {
        /// Address to listen on.
        #[arg(long)]
        bind: Option<String>,
        /// Port to listen on.
        #[arg(long)]
        port: Option<u16>,
        /// Seed the demo environment first when the database has none, and (unless `[accountview]`
        /// is configured) run the AccountView sandbox in this process for it.
        #[arg(long)]
        demo: bool,
        /// Serve only the web; run background jobs and schedules elsewhere (`koppel worker`).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run background jobs and the scheduler only, without the web server. Serves /metrics and
    /// /healthz on a port of its own (`[jobs] metrics_port`).
    Worker {
        /// Port for the worker's /metrics and /healthz (0: any free port, logged at start).
        #[arg(long)]
        metrics_port: Option<u16>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Seed demo data: a Dutch installation group, or with --scale N a benchmark volume.
    Demo {
        /// Generate N work orders (and proportional relations, invoices, lines) for benchmarks.
        #[arg(long, value_name = "N")]
        scale: Option<u64>,
    },
    /// Print the effective configuration with secrets hidden.
    CheckConfig,
    /// Print a fresh random encryption key (32 bytes as 64 hex digits) for `[accountview] encryption_key`.
    GenerateKey,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::GenerateKey = cli.command {
        // Needs no configuration, so it also works while the configuration is still being written.
        println!("{}", demo::generate_key());
        return Ok(());
    }
    let (bind, port) = match &cli.command {
        Command::Serve { bind, port, .. } => (bind.clone(), *port),
        _ => (None, None),
    };
    let metrics_port = match &cli.command {
        Command::Worker { metrics_port } => *metrics_port,
        _ => None,
    };
    let flags = Flags {
        config_file: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        bind,
        port,
        metrics_port,
        log_format: cli.log_format.clone(),
    };
    let environment: Vec<(String, String)> = std::env::vars().collect();
    let (config, warnings) = Config::load(&flags, &environment)?;
    if let Command::CheckConfig = cli.command {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
        print!("{}", config.redacted());
        return Ok(());
    }
    init_logging(&config)?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, config))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .with_context(|| format!("log.filter {:?} is not a valid filter", config.log.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.uses_sqlite_in_data_dir() {
        // Only Koppel's user may enter the data directory (0700) and read the database (0600).
        koppel_store::create_private_dir(config.data_dir())
            .with_context(|| format!("cannot create the data directory {}", config.data_dir().display()))?;
    }
    let options = ConnectOptions {
        url: config.database_url(),
        max_connections: config.database.max_connections,
    };
    let store = Store::connect(&options, Arc::new(SystemClock))
        .await
        .with_context(|| format!("cannot open the database {}", koppel_store::redact_url(&options.url)))?;
    Ok(store)
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.migrate().await.context("migrations failed")?;
            tracing::info!(database.backend = store.backend().name(), "migrations applied");
            println!("Migrations applied ({}).", store.backend().name());
            store.close().await;
        }
        Command::Demo { scale } => {
            let store = open_store(&config).await?;
            store.migrate().await.context("migrations failed")?;
            let mut options = koppel_demo::DemoOptions {
                scale,
                ..koppel_demo::DemoOptions::default()
            };
            if scale.is_some() {
                options = options.with_printed_progress();
            }
            let summary = koppel_demo::seed(&store, &options).await?;
            print_demo_summary(&summary, store.backend(), true);
            store.close().await;
        }
        Command::Serve { demo, no_worker, .. } => serve(config, demo, !no_worker).await?,
        Command::Worker { .. } => worker(config).await?,
        Command::CheckConfig | Command::GenerateKey => unreachable!("handled before the runtime starts"),
    }
    Ok(())
}

async fn serve(mut config: Config, demo: bool, with_worker: bool) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if config.database.migrate_on_start {
        store.migrate().await.context("migrations failed")?;
    }
    let mut fresh_demo = false;
    if demo {
        match koppel_demo::seed(&store, &koppel_demo::DemoOptions::default()).await {
            Ok(summary) => {
                print_demo_summary(&summary, store.backend(), false);
                fresh_demo = true;
            }
            Err(koppel_demo::DemoError::AlreadySeeded { .. }) => {
                tracing::info!("demo data already present; starting with it");
            }
            Err(error) => return Err(error).context("seeding demo data failed"),
        }
    }
    let address = format!("{}:{}", config.http.bind, config.http.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}; is another program using the port? (set --port)"))?;
    let local_address = listener.local_addr()?;
    // The demo brings its own AccountView unless the operator configured one; it needs the port
    // Koppel listens on for its callback, hence after binding.
    let sandbox = if demo && !config.accountview.enabled() {
        let sandbox = demo::DemoSandbox::start(&config, local_address).await?;
        config.accountview = sandbox.section.clone();
        Some(sandbox)
    } else {
        None
    };
    let group = if demo {
        demo::DemoGroup::find(&store).await?
    } else {
        None
    };
    if let Some(group) = &group {
        if fresh_demo {
            demo::switch_autosync_on(&store, group).await?;
        }
        let feed_token = demo::feed_token(&store, config.data_dir(), group).await?;
        demo::print_banner(&demo::Banner {
            koppel_url: demo::koppel_origin(&config, local_address),
            group,
            sandbox: sandbox.as_ref(),
            feed_token,
            data_dir: config.data_dir().to_path_buf(),
        });
    }
    let web = koppel_web::WebConfig {
        session_lifetime: chrono::Duration::hours(i64::from(config.http.session_lifetime_hours)),
        secure_cookies: config.http.public_url.starts_with("https://"),
        max_body_bytes: config.http.max_body_bytes,
        header_read_timeout: std::time::Duration::from_secs(config.http.header_read_timeout_seconds),
        body_read_timeout: std::time::Duration::from_secs(config.http.body_read_timeout_seconds),
        public_url: config.http.public_url()?,
        trusted_proxies: config.http.trusted_proxies()?,
        ..koppel_web::WebConfig::default()
    };
    let mut state = koppel_web::AppState::new(store.clone(), web);
    // The pages and the REST API reach the same integration the worker runs the jobs of.
    let accountview = accountview_connector(&config, &store)?;
    if let Some(accountview) = &accountview {
        state = state.with_accountview(accountview.clone());
    }
    if let Some(notice) = sandbox.as_ref().and_then(demo::DemoSandbox::notice) {
        state = state.with_accountview_sandbox(notice);
    }
    let shutdown = Shutdown::on_signal();
    // The worker starts before the server says it listens, so "listening" means fully up.
    let jobs = if with_worker {
        let background = Background::new(&store, &config)?;
        let shutdown = shutdown.clone();
        Some(tokio::spawn(async move { background.run(shutdown).await }))
    } else {
        tracing::info!("background jobs are not run by this process (--no-worker)");
        None
    };
    // The rest of a fresh demo's story takes a few seconds of jobs: it runs after the server is up.
    let story = match (&sandbox, accountview, group) {
        (Some(sandbox), Some(accountview), Some(group)) if fresh_demo && with_worker => {
            let password = demo::story_password(sandbox)?;
            let task =
                demo::connect_story_branch(store.clone(), accountview, sandbox.base_url.clone(), password, group);
            Some(tokio::spawn(async move {
                if let Err(error) = task.await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "the demo's AccountView story could not be set up"
                    );
                }
            }))
        }
        _ => None,
    };
    let sandbox = sandbox.map(|sandbox| sandbox.serve(shutdown.clone().stopped()));
    tracing::info!(
        http.address = %local_address,
        database.backend = store.backend().name(),
        "Koppel is listening on http://{}",
        local_address
    );
    koppel_web::serve(listener, state, shutdown.clone().stopped())
        .await
        .context("the web server stopped")?;
    if let Some(story) = story {
        story.abort();
    }
    if let Some(jobs) = jobs {
        jobs.await.context("the background jobs stopped abnormally")?;
    }
    if let Some(sandbox) = sandbox {
        sandbox
            .await
            .context("the demo's AccountView sandbox stopped abnormally")?;
    }
    tracing::info!("shutting down");
    store.close().await;
    Ok(())
}

/// `koppel worker`: background jobs and the scheduler, no web server.
async fn worker(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if config.database.migrate_on_start {
        store.migrate().await.context("migrations failed")?;
    }
    let shutdown = Shutdown::on_signal();
    let status = if config.jobs.metrics_enabled {
        let address = format!("{}:{}", config.jobs.metrics_bind, config.jobs.metrics_port);
        Some(worker_status::serve(&address, store.clone(), shutdown.clone().stopped()).await?)
    } else {
        tracing::info!("the worker serves no /metrics and /healthz (jobs.metrics_enabled = false)");
        None
    };
    let background = Background::new(&store, &config)?;
    tracing::info!(
        database.backend = store.backend().name(),
        "Koppel worker running; stop it with SIGTERM or Ctrl-C"
    );
    background.run(shutdown).await;
    if let Some(status) = status {
        status
            .await
            .context("the worker's /metrics and /healthz server stopped abnormally")?;
    }
    tracing::info!("shutting down");
    store.close().await;
    Ok(())
}

/// The AccountView integration from `[accountview]`, or `None` when the operator has not configured it.
fn accountview_connector(config: &Config, store: &Store) -> anyhow::Result<Option<koppel_accountview::AccountView>> {
    if !config.accountview.enabled() {
        return Ok(None);
    }
    let connector = koppel_accountview::AccountView::new(config.accountview.connector_config(), store.clone())
        .context("the [accountview] configuration cannot work")?;
    Ok(Some(connector))
}

/// The worker and the scheduler of one process, wired from the `[jobs]` configuration.
struct Background {
    worker: koppel_jobs::Worker,
    scheduler: koppel_jobs::Scheduler,
}

impl Background {
    fn new(store: &Store, config: &Config) -> anyhow::Result<Background> {
        use koppel_jobs::Periodic;
        use koppel_jobs::kinds::{self, BuiltinConfig};
        use std::time::Duration;
        let jobs = &config.jobs;
        let queue = koppel_jobs::Queue::new(store.clone(), i64::from(jobs.max_attempts));
        let mut registry = kinds::builtin(&BuiltinConfig {
            history_retention: chrono::Duration::days(i64::from(jobs.history_retention_days)),
        });
        registry.register(koppel_settingsync::job::SettingsSyncJob);
        registry.register(koppel_datasync::DataSync::new(config.datasync.settings().retention));
        let minutes = |minutes: u32| Duration::from_secs(u64::from(minutes) * 60);
        // Every periodic kind of work, with its operator-set interval; each kind declares its targets.
        let mut periodic = vec![
            Periodic::of::<kinds::prune_history::PruneHistory>(minutes(jobs.prune_interval_minutes))?,
            // Autosync: for the administrations that switched it on.
            Periodic::of::<koppel_datasync::DataSync>(config.datasync.settings().autosync_interval)?,
        ];
        if let Some(connector) = accountview_connector(config, store)? {
            registry.register(koppel_accountview::import::ImportJob {
                accountview: connector.clone(),
            });
            registry.register(koppel_accountview::export::ExportJob { accountview: connector });
            // For every connected administration.
            periodic.push(Periodic::of::<koppel_accountview::import::ImportJob>(minutes(
                config.accountview.import_interval_minutes,
            ))?);
            periodic.push(Periodic::of::<koppel_accountview::export::ExportJob>(minutes(
                config.accountview.export_interval_minutes,
            ))?);
        }
        let worker = koppel_jobs::Worker::new(
            &queue,
            registry.clone(),
            koppel_jobs::WorkerConfig {
                concurrency: jobs.concurrency as usize,
                poll_interval: Duration::from_millis(jobs.poll_interval_ms),
                lease: Duration::from_secs(jobs.lease_seconds),
                heartbeat_interval: Duration::from_secs(jobs.heartbeat_seconds),
                grace_period: Duration::from_secs(jobs.grace_seconds),
                retry: koppel_jobs::RetryPolicy {
                    base: Duration::from_secs(jobs.retry_base_seconds),
                    max: Duration::from_secs(jobs.retry_max_seconds),
                },
            },
        );
        let scheduler = koppel_jobs::Scheduler::new(
            &queue,
            &registry,
            periodic,
            koppel_jobs::SchedulerConfig {
                tick_interval: Duration::from_secs(jobs.scheduler_tick_seconds),
            },
        )
        .context("the schedules in [jobs] cannot work")?;
        Ok(Background { worker, scheduler })
    }

    /// Runs until shutdown; the worker then lets running jobs finish within the grace period.
    async fn run(self, shutdown: Shutdown) {
        tokio::join!(
            self.worker.run(shutdown.clone().stopped()),
            self.scheduler.run(shutdown.stopped())
        );
    }
}

/// One shutdown signal (Ctrl-C or SIGTERM) shared by the web server, the worker and the scheduler.
#[derive(Clone)]
struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    fn on_signal() -> Shutdown {
        let (sender, receiver) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested");
            sender.send_replace(true);
        });
        Shutdown(receiver)
    }

    async fn stopped(mut self) {
        // An error means the sender is gone, which only happens after it signalled.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// Tells whoever ran the demo what was made, and (`with_logins`) how to log in.
fn print_demo_summary(summary: &koppel_demo::DemoSummary, backend: koppel_store::Backend, with_logins: bool) {
    println!(
        "Demo environment \"{}\" seeded on {}:",
        summary.environment_name,
        backend.name()
    );
    for administration in &summary.administrations {
        let kind = if administration.is_main { "main" } else { "sub" };
        println!(
            "  administration {} ({kind}, id {})",
            administration.name, administration.id
        );
    }
    println!(
        "  {} records, {} work orders in {:.1} s ({:.0} work orders/s)",
        summary.total_records(),
        summary.work_orders,
        summary.elapsed.as_secs_f64(),
        summary.work_orders_per_second()
    );
    if with_logins && !summary.logins.is_empty() {
        println!("Demo logins (demo data only; change them for anything real):");
        for login in &summary.logins {
            println!("  {:<34} {:<22} {}", login.email, login.password, login.access);
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
