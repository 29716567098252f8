//! Demo and benchmark data for Koppel.
//!
//! [`seed`] builds one of two environments:
//!
//! - without a scale, "Installatiegroep Van Dijk": a Dutch installation group with a main
//!   administration and three branches as subs, licences, users with printed demo passwords, two
//!   years of daily data written through the store's ordinary checked paths (so every generated record
//!   passes the same validation an API client's would), invoices made by the store's own invoicing,
//!   and a settings catalogue in the main that the subs have drifted away from;
//! - with a scale N, "Benchmark": N work orders with proportional relations, lines, invoices and
//!   payments in one administration, loaded through the store's bulk path as fast as the backend takes
//!   them.
//!
//! Both are deterministic for a given seed and store clock. Seeding refuses to run when its environment
//! already exists: the store cannot delete a main administration, so there is no safe "reset" short of a
//! fresh database, and silently adding a second copy would double every figure a demo shows.

mod catalogue;
mod group;
mod scale;
pub mod story;
mod vocabulary;

pub use catalogue::Drift;

use koppel_domain::EnvironmentId;
use koppel_domain::record::{FieldError, ResourceSpec, parse_create};
use koppel_store::platform::Administration;
use koppel_store::records::StoredRecord;
use koppel_store::{Store, StoreError, WriteTx};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The name of the environment a normal demo creates.
pub const GROUP_ENVIRONMENT: &str = "Installatiegroep Van Dijk";
/// The name of the environment (and its main administration) a scaled run creates.
pub const BENCHMARK_ENVIRONMENT: &str = "Benchmark";

/// What to generate.
#[derive(Clone)]
pub struct DemoOptions {
    /// `None`: the realistic group. `Some(n)`: n work orders for benchmarks.
    pub scale: Option<u64>,
    /// Seed of the random generator; the same seed and clock give the same data.
    pub seed: u64,
    /// Work orders per transaction in a scaled run.
    pub batch_size: usize,
    /// Called after every batch of a scaled run.
    pub progress: Option<ProgressFn>,
}

/// A progress callback; see [`DemoOptions::with_printed_progress`].
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            scale: None,
            seed: 2026,
            batch_size: 10_000,
            progress: None,
        }
    }
}

impl std::fmt::Debug for DemoOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOptions")
            .field("scale", &self.scale)
            .field("seed", &self.seed)
            .field("batch_size", &self.batch_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl DemoOptions {
    pub fn scaled(work_orders: u64) -> DemoOptions {
        DemoOptions {
            scale: Some(work_orders),
            ..DemoOptions::default()
        }
    }

    /// Reports progress of a scaled run on standard error, one line per batch.
    pub fn with_printed_progress(mut self) -> DemoOptions {
        self.progress = Some(Arc::new(|progress: &Progress| {
            eprintln!(
                "demo: {:>10} / {} work orders  {:>8.1} s  {:>9.0} work orders/s",
                progress.work_orders_done,
                progress.work_orders_total,
                progress.elapsed.as_secs_f64(),
                progress.work_orders_per_second()
            );
        }));
        self
    }
}

/// How far a scaled run is.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub work_orders_done: u64,
    pub work_orders_total: u64,
    /// Since the work orders started; master data before them is not counted.
    pub elapsed: Duration,
}

impl Progress {
    pub fn work_orders_per_second(&self) -> f64 {
        per_second(self.work_orders_done, self.elapsed)
    }
}

/// A login the demo created, to print for whoever runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub name: String,
    pub email: String,
    pub password: String,
    /// What the user may do, in words.
    pub access: String,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub environment: EnvironmentId,
    pub environment_name: String,
    /// Main first.
    pub administrations: Vec<Administration>,
    pub logins: Vec<DemoLogin>,
    /// Records written per resource slug, over all administrations.
    pub counts: BTreeMap<&'static str, u64>,
    pub work_orders: u64,
    /// The whole run.
    pub elapsed: Duration,
    /// Writing the work orders with their lines, invoices and payments.
    pub work_orders_elapsed: Duration,
}

impl DemoSummary {
    /// Work orders over the whole run, master data and settings included: the conservative figure.
    pub fn work_orders_per_second(&self) -> f64 {
        per_second(self.work_orders, self.elapsed)
    }

    /// Work orders over the phase that writes them with their lines, invoices and payments.
    pub fn work_order_phase_per_second(&self) -> f64 {
        per_second(self.work_orders, self.work_orders_elapsed)
    }

    pub fn total_records(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this database already has an environment named \"{name}\" (id {id}); \
         the demo only seeds a database that does not have it yet, so use a fresh database file"
    )]
    AlreadySeeded { name: &'static str, id: EnvironmentId },
    /// A generator produced a record the domain rejects: a bug in this crate, reported with the fields.
    #[error("the demo generated an invalid {resource}: {errors:?}")]
    Invalid {
        resource: &'static str,
        errors: Vec<FieldError>,
    },
    /// The resource specs changed in a way the bulk generator does not know yet.
    #[error("the {resource} resource no longer has the fields the benchmark generator writes: {detail}")]
    Layout { resource: &'static str, detail: String },
    /// The demo's story could not be told on this data (see [`story`]).
    #[error("the demo's story cannot go on: {0}")]
    Story(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The demo group's logins with their passwords, administrator first. The passwords are fixed (they
/// only ever guard demo data), so whoever starts the demo can be told them on every start, not only
/// when the data is first made; a user who changed theirs since knows the new one.
pub fn group_logins() -> Vec<DemoLogin> {
    group::logins()
}

/// Seeds the demo group, or N work orders when `options.scale` is set.
pub async fn seed(store: &Store, options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    match options.scale {
        None => group::seed(store, options).await,
        Some(work_orders) => scale::seed(store, options, work_orders).await,
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

/// Refuses to seed an environment that already exists.
async fn ensure_absent(store: &Store, name: &'static str) -> Result<(), DemoError> {
    match store.environment_named(name).await? {
        Some(id) => Err(DemoError::AlreadySeeded { name, id }),
        None => Ok(()),
    }
}

/// Creates a record from wire JSON through the same parsing, rules and reference checks as the API.
async fn create(
    tx: &mut WriteTx,
    counts: &mut BTreeMap<&'static str, u64>,
    spec: &'static ResourceSpec,
    json: serde_json::Value,
) -> Result<StoredRecord, DemoError> {
    let values = parse_create(spec, &json).map_err(|errors| DemoError::Invalid {
        resource: spec.slug,
        errors,
    })?;
    let record = tx.insert(spec, values).await.map_err(|error| match error {
        StoreError::Invalid(errors) => DemoError::Invalid {
            resource: spec.slug,
            errors,
        },
        other => DemoError::Store(other),
    })?;
    *counts.entry(spec.slug).or_default() += 1;
    Ok(record)
}
