//! `cargo xtask bench …`: benchmarks that print figures. Nothing here asserts a speed; the numbers
//! go into issues and release notes, measured the same way every time.

mod cpu;
mod feed;
mod load;
mod rest;
mod scratch;
mod server;
mod tenants;

use crate::cargo::{cargo, run_timed, seconds};
use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Bench {
    /// REST throughput and latency: `koppel serve` with `demo --scale N` data, N clients on loopback.
    Rest(rest::RestArgs),
    /// `demo --scale N` generation rate on SQLite (and PostgreSQL when KOPPEL_BENCH_DATABASE_URL or
    /// KOPPEL_TEST_DATABASE_URL is set): `cargo bench -p koppel-demo --bench demo_scale`.
    Demo {
        /// Work orders to generate (sets KOPPEL_BENCH_SCALE; the bench's default is 1,000,000).
        #[arg(long, value_parser = parse_count)]
        scale: Option<u64>,
    },
    /// Job queue throughput and claim latency (no-op jobs) on SQLite, and on PostgreSQL with one and
    /// two workers when KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL is set:
    /// `cargo bench -p koppel-jobs --bench jobs`.
    Jobs,
    /// Settings sync of a large main (1,000 settings items) to 100 drifted subs: preview and apply, and
    /// the same sync repeated; SQLite and PostgreSQL: `cargo bench -p koppel-settingsync`.
    SettingsSync,
    /// The AccountView connector against the sandbox: import of 100,000 debtors (rows/s, share of time
    /// waiting on the sandbox) and export of 10,000 work orders (invoices/s) clean and with injected
    /// faults: `cargo bench -p koppel-accountview --bench accountview`.
    Accountview {
        /// Debtors in the sandbox (sets KOPPEL_BENCH_DEBTORS; default 100,000).
        #[arg(long, value_parser = parse_count)]
        debtors: Option<u64>,
        /// Work orders to export (sets KOPPEL_BENCH_WORK_ORDERS; default 10,000).
        #[arg(long, value_parser = parse_count)]
        work_orders: Option<u64>,
    },
    /// Data Sync on `demo --scale` data: full sync rows/s, incremental sync after 10,000 changes, and a
    /// sync with nothing changed; SQLite and PostgreSQL: `cargo bench -p koppel-datasync`.
    Datasync {
        /// Work orders to generate (sets KOPPEL_BENCH_SCALE).
        #[arg(long, value_parser = parse_count)]
        scale: Option<u64>,
    },
    /// The OData feed as Power BI reads it: all WorkOrders through HTTP following nextLinks, rows/s
    /// and the server's peak memory, on `demo --scale N` after a full Data Sync.
    Feed(feed::FeedArgs),
    /// Many administrations on one PostgreSQL: N administrations with Autosync on at a short interval,
    /// `koppel serve --no-worker` and two `koppel worker` processes, a writer and feed reads alongside,
    /// for some minutes; syncs per interval against what was due, lag due → done, missed intervals,
    /// queue depth, CPU per process. Needs KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL.
    Tenants(tenants::TenantsArgs),
    /// Clean debug build time of the whole workspace, in a temporary target directory. Takes minutes.
    Build {
        /// Keep the temporary target directory instead of deleting it.
        #[arg(long)]
        keep: bool,
    },
}

pub fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Rest(arguments) => rest::run(arguments),
        Bench::Demo { scale } => demo(scale),
        Bench::Jobs => {
            run_timed(&mut cargo(["bench", "-p", "koppel-jobs", "--bench", "jobs"]))?;
            Ok(())
        }
        Bench::SettingsSync => {
            run_timed(&mut cargo([
                "bench",
                "-p",
                "koppel-settingsync",
                "--bench",
                "settings_sync",
            ]))?;
            Ok(())
        }
        Bench::Accountview { debtors, work_orders } => {
            let mut command = cargo(["bench", "-p", "koppel-accountview", "--bench", "accountview"]);
            if let Some(debtors) = debtors {
                command.env("KOPPEL_BENCH_DEBTORS", debtors.to_string());
            }
            if let Some(work_orders) = work_orders {
                command.env("KOPPEL_BENCH_WORK_ORDERS", work_orders.to_string());
            }
            run_timed(&mut command)?;
            Ok(())
        }
        Bench::Datasync { scale } => {
            let mut command = cargo(["bench", "-p", "koppel-datasync", "--bench", "datasync"]);
            if let Some(scale) = scale {
                command.env("KOPPEL_BENCH_SCALE", scale.to_string());
            }
            run_timed(&mut command)?;
            Ok(())
        }
        Bench::Feed(arguments) => feed::run(arguments),
        Bench::Tenants(arguments) => tenants::run(arguments),
        Bench::Build { keep } => build(keep),
    }
}

/// A count that may be written with separators: 1000000, 1_000_000 or 1,000,000.
pub fn parse_count(text: &str) -> Result<u64, String> {
    text.replace(['_', ','], "")
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

fn demo(scale: Option<u64>) -> anyhow::Result<()> {
    let mut command = cargo(["bench", "-p", "koppel-demo", "--bench", "demo_scale"]);
    if let Some(scale) = scale {
        command.env("KOPPEL_BENCH_SCALE", scale.to_string());
    }
    run_timed(&mut command)?;
    Ok(())
}

fn build(keep: bool) -> anyhow::Result<()> {
    let target_dir = std::env::temp_dir().join(format!("koppel-build-bench-{}", scratch::random_suffix()));
    eprintln!(
        "bench build: a clean debug build of the whole workspace into {}; this takes minutes \
         (4 or more on 2 cores) and about 6 GB of disk while it runs. Other builds running at the same time \
         slow it down and make the figure worthless.",
        target_dir.display()
    );
    // Downloads are not compile time: fetch first (a no-op when everything is cached).
    run_timed(&mut cargo(["fetch", "--quiet"]))?;
    let mut command = cargo(["build", "--workspace", "--all-targets"]);
    command.env("CARGO_TARGET_DIR", &target_dir);
    let result = run_timed(&mut command);
    let size_bytes = scratch::directory_size_bytes(&target_dir);
    if keep {
        eprintln!("bench build: kept {}", target_dir.display());
    } else {
        std::fs::remove_dir_all(&target_dir).with_context(|| {
            format!(
                "could not remove the temporary target directory {}",
                target_dir.display()
            )
        })?;
    }
    let elapsed = result?;
    println!(
        "clean debug build (cargo build --workspace --all-targets): {} ({} min {} s), target directory {:.2} GB",
        seconds(elapsed),
        elapsed.as_secs() / 60,
        elapsed.as_secs() % 60,
        size_bytes as f64 / 1e9
    );
    Ok(())
}
