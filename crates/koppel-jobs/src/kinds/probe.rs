//! `probe`: a diagnostic job that leaves countable traces, for proving the queue's guarantees (each
//! job runs once; a job whose worker was killed runs again elsewhere without repeating its effect)
//! and for trying a deployment's workers by hand.
//!
//! Each execution counts itself in `job_probe_executions` when its body starts. The job's one side
//! effect is written idempotently at the end: only the first execution that gets there applies it.
//! In between it can sleep (heartbeats keep its lease meanwhile; cancellation stops it), report
//! progress, record items, or fail on purpose.
//!
//! It is test code: it exists only with the `testing` feature, which tests and the process tests of
//! the binary turn on, and never in a release build.

use crate::ids::JobId;
use crate::job::{Job, JobContext, JobError, JobFuture, JobType, Outcome};
use crate::runs::{ItemStatus, NewRunItem, RunMessage};
use crate::storage::jobs::NewJob;
use chrono::{DateTime, Utc};
use koppel_store::sql::on_pool;
use koppel_store::{Result, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

pub const KIND: &str = "probe";

/// How a probe fails on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeFailure {
    Transient,
    Permanent,
}

/// What a probe does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbePayload {
    /// Sleep this long in total, split over `steps`, reporting progress after each.
    pub sleep_ms: u64,
    pub steps: u32,
    /// Fail like this…
    pub fail: Option<ProbeFailure>,
    /// …on every attempt up to and including this one (every attempt when absent).
    pub fail_until_attempt: Option<i64>,
    /// Record this many item results (every third one skipped, to show mixed results).
    pub items: u32,
}

impl ProbePayload {
    /// A probe job with this payload.
    pub fn job(&self) -> NewJob {
        NewJob::new(KIND, serde_json::to_value(self).expect("the payload serialises"))
    }
}

pub struct Probe;

impl JobType for Probe {
    const KIND: &'static str = KIND;
    /// Scheduled probes show how periods join a run that still waits.
    const DEDUPLICATED: bool = true;
}

impl Job for Probe {
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: ProbePayload = context.payload()?;
            let store = context.store();
            let job = context.job().id;
            let executions = started(store, job, context.worker()).await?;
            let failing_now = payload
                .fail_until_attempt
                .is_none_or(|until| context.attempt() <= until);
            match payload.fail {
                Some(ProbeFailure::Transient) if failing_now => {
                    return Err(JobError::transient(anyhow::anyhow!(
                        "probe: a transient failure on attempt {}, as asked",
                        context.attempt()
                    )));
                }
                Some(ProbeFailure::Permanent) if failing_now => {
                    return Err(JobError::permanent(
                        RunMessage::new(
                            "De testtaak is opzettelijk mislukt.",
                            "The probe job failed on purpose.",
                        ),
                        anyhow::anyhow!("probe: a permanent failure, as asked"),
                    ));
                }
                _ => {}
            }
            let steps = payload.steps.max(1);
            let step = Duration::from_millis(payload.sleep_ms / u64::from(steps));
            for done in 1..=steps {
                context.sleep(step).await?;
                context.progress(i64::from(done), Some(i64::from(steps)), None).await?;
            }
            for index in 0..payload.items {
                let key = format!("probe-item-{index}");
                let status = if index % 3 == 2 {
                    ItemStatus::Skipped
                } else {
                    ItemStatus::Succeeded
                };
                context
                    .item(&NewRunItem {
                        key: &key,
                        status,
                        message: None,
                        detail: None,
                    })
                    .await?;
            }
            let applied = apply_effect(store, job, context.worker()).await?;
            Ok(Outcome::done().counts(json!({"executions": executions, "effect_applied": applied})))
        })
    }
}

/// The probe diagnostic job's record of one job: how often its body started, and its one effect.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProbeExecution {
    pub job_id: JobId,
    pub executions: i64,
    pub first_worker: String,
    pub last_worker: String,
    pub effect_worker: Option<String>,
    pub effect_at: Option<DateTime<Utc>>,
}

/// The probe job's body started for `job` on `worker`; returns how often it has started.
async fn started(store: &Store, job: JobId, worker: &str) -> Result<i64> {
    Ok(on_pool!(store.pool(), pool => sqlx::query_scalar(
        "INSERT INTO job_probe_executions (job_id, executions, first_worker, last_worker) VALUES ($1, 1, $2, $2) \
         ON CONFLICT (job_id) DO UPDATE SET executions = job_probe_executions.executions + 1, \
         last_worker = excluded.last_worker RETURNING executions",
    )
    .bind(job)
    .bind(worker)
    .fetch_one(pool)
    .await)?)
}

/// The probe job's one side effect, applied idempotently: only the first execution to get here
/// applies it. `true` when this call applied it.
async fn apply_effect(store: &Store, job: JobId, worker: &str) -> Result<bool> {
    let now = store.now();
    let applied = on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE job_probe_executions SET effect_worker = $2, effect_at = $3 WHERE job_id = $1 AND effect_worker IS NULL",
    )
    .bind(job)
    .bind(worker)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(applied > 0)
}

/// Every probe execution record, by job.
pub async fn executions(store: &Store) -> Result<Vec<ProbeExecution>> {
    Ok(on_pool!(store.pool(), pool => sqlx::query_as(
        "SELECT job_id, executions, first_worker, last_worker, effect_worker, effect_at FROM job_probe_executions ORDER BY job_id",
    )
    .fetch_all(pool)
    .await)?)
}
