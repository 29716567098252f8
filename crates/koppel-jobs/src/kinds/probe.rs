//! `probe`: a diagnostic job that leaves countable traces, for proving the queue's guarantees (each
//! job runs once; a job whose worker was killed runs again elsewhere without repeating its effect)
//! and for trying a deployment's workers by hand.
//!
//! Each execution counts itself in `job_probe_executions` when its body starts. The job's one side
//! effect is written idempotently at the end: only the first execution that gets there applies it.
//! In between it can sleep (heartbeats keep its lease meanwhile; cancellation stops it), report
//! progress, record items, or fail on purpose.

use crate::job::{Job, JobContext, JobError, JobFuture, Outcome};
use koppel_store::queue::NewJob;
use koppel_store::runs::{ItemStatus, NewRunItem, RunMessage};
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

impl Job for Probe {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: ProbePayload = context.payload()?;
            let store = context.store();
            let job = context.job().id;
            let executions = store.probe_started(job, context.worker()).await?;
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
            let applied = store.probe_apply_effect(job, context.worker()).await?;
            Ok(Outcome::done().counts(json!({"executions": executions, "effect_applied": applied})))
        })
    }
}
