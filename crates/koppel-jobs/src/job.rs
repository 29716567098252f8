//! What a job kind is: its declaration ([`JobType`]: name, deduplication, priority, schedule), its
//! body (the [`Job`] trait), the [`JobContext`] a running body sees, how it reports success
//! ([`Outcome`]) and failure ([`JobError`]), and the [`Registry`] of kinds a worker runs.
//!
//! Every kind is declared once, the way crates.io's worker declares its jobs: the unique key that
//! makes a second request join a queued or running job is built by one function ([`unique_key`])
//! from the declaration, never written by hand.

use crate::runs::{NewRunItem, RunMessage};
use crate::scheduler::Scope;
use crate::storage::jobs::{NewJob, QueuedJob};
use koppel_domain::AdministrationId;
use koppel_store::{Store, StoreError};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What [`Job::run`] returns.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome, JobError>> + Send + 'a>>;

/// The declaration of one kind of background work: everything about the kind that is not its body.
/// Implement it next to the body ([`Job`]) in the kind's own file.
pub trait JobType {
    /// The name stored with every queued job of this kind, e.g. `data_sync`. Never rename a kind:
    /// queued jobs and the run history carry it.
    const KIND: &'static str;
    /// Whether at most one job of this kind per administration (or for the system) is queued or
    /// running: a second request joins it instead of piling up another.
    const DEDUPLICATED: bool;
    /// Higher runs first among due jobs.
    const PRIORITY: i64 = 0;
    /// Which targets the kind runs for periodically, when the scheduler is given an interval for
    /// it; `None` for kinds that only run on request.
    const SCHEDULE: Option<Scope> = None;

    /// The payload of a job the scheduler enqueues for one period.
    fn scheduled_payload() -> Json {
        serde_json::json!({})
    }

    /// A job of this kind for `target` (an administration, or `None` for the system) with this
    /// payload, carrying the kind's unique key when it is deduplicated.
    fn job(target: Option<AdministrationId>, payload: Json) -> NewJob {
        let mut job = NewJob::new(Self::KIND, payload).priority(Self::PRIORITY);
        if let Some(administration) = target {
            job = job.administration(administration);
        }
        if Self::DEDUPLICATED {
            job = job.unique_key(unique_key(Self::KIND, target));
        }
        job
    }

    /// The job of one period of this kind's schedule.
    fn scheduled(target: Option<AdministrationId>) -> NewJob {
        Self::job(target, Self::scheduled_payload())
    }
}

/// The unique key of a deduplicated kind's job for one administration or for the system; the one
/// place its format is written.
pub fn unique_key(kind: &str, target: Option<AdministrationId>) -> String {
    match target {
        Some(administration) => format!("{kind}:administration:{administration}"),
        None => format!("{kind}:system"),
    }
}

/// The body of one kind of background work. Implement it in a file of its own, together with its
/// [`JobType`], and register it in the worker's [`Registry`]; that is all a new kind needs.
///
/// A job may run more than once: when its worker dies, the job is run again from the start by
/// another worker after its lease expires. Bodies must therefore be idempotent — write with upserts
/// keyed on something stable, record items by a stable key, and check before repeating an effect
/// outside Koppel.
pub trait Job: Send + Sync + 'static {
    /// Runs one attempt. Return [`JobError::Transient`] when trying again later may help,
    /// [`JobError::Permanent`] when it never will. Stop soon after [`JobContext::cancelled`] fires.
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a>;
}

/// How an attempt ended well.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Some items failed; the run is recorded as partially succeeded.
    pub partial: bool,
    /// What users read; `None` shows the standard "completed" message.
    pub message: Option<RunMessage>,
    /// Counts per table or item type, e.g. `{"relations": 12}`.
    pub counts: Option<Json>,
}

impl Outcome {
    pub fn done() -> Outcome {
        Outcome::default()
    }

    pub fn partial(mut self) -> Outcome {
        self.partial = true;
        self
    }

    pub fn message(mut self, message: RunMessage) -> Outcome {
        self.message = Some(message);
        self
    }

    pub fn counts(mut self, counts: Json) -> Outcome {
        self.counts = Some(counts);
        self
    }
}

/// How an attempt ended badly.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Trying again later may help: a timeout, a busy database, a remote system's 5xx. Retried with
    /// backoff until the job's attempts run out.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Will never work as it is: bad input, a rejected credential, a record that is gone. The run
    /// fails at once with `message` for users; `detail` is for operators.
    #[error("{detail:#}")]
    Permanent { message: RunMessage, detail: anyhow::Error },
    /// The body stopped because a user asked to cancel.
    #[error("cancelled")]
    Cancelled,
}

impl JobError {
    pub fn transient(error: impl Into<anyhow::Error>) -> JobError {
        JobError::Transient(error.into())
    }

    pub fn permanent(message: RunMessage, detail: impl Into<anyhow::Error>) -> JobError {
        JobError::Permanent {
            message,
            detail: detail.into(),
        }
    }
}

impl From<StoreError> for JobError {
    /// Database trouble is worth another try; a store that refuses the data will refuse it again.
    fn from(error: StoreError) -> JobError {
        match error {
            StoreError::Database(_) | StoreError::Migrate(_) | StoreError::Conflict { code: "busy", .. } => {
                JobError::Transient(error.into())
            }
            StoreError::NotFound => JobError::permanent(
                RunMessage::new(
                    "De gegevens waar deze taak mee werkt bestaan niet meer.",
                    "The data this job works on no longer exists.",
                ),
                error,
            ),
            other => JobError::permanent(
                RunMessage::new(
                    "De taak kon niet worden uitgevoerd omdat de gegevens niet kloppen.",
                    "The job could not be carried out because the data is not valid.",
                ),
                other,
            ),
        }
    }
}

/// What a running job sees: its queue row, the store, and the signal that a user wants it to stop.
pub struct JobContext {
    pub(crate) store: Store,
    pub(crate) job: QueuedJob,
    pub(crate) worker: String,
    pub(crate) cancel: watch::Receiver<bool>,
}

impl JobContext {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The job as claimed: id, run id, kind, payload, attempt.
    pub fn job(&self) -> &QueuedJob {
        &self.job
    }

    pub fn administration(&self) -> Option<AdministrationId> {
        self.job.administration
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> i64 {
        self.job.attempts
    }

    /// The id of the worker running this attempt.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The payload as the job's own type. A payload that does not fit will never fit: permanent.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.job.payload.clone()).map_err(|error| {
            JobError::permanent(
                RunMessage::new(
                    "De taak heeft ongeldige invoer gekregen.",
                    "The job was given input it cannot use.",
                ),
                anyhow::Error::new(error).context(format!("payload of {} job {}", self.job.kind, self.job.id)),
            )
        })
    }

    /// Whether a user asked to cancel this run.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Completes when a user asks to cancel this run (the worker learns it at a heartbeat).
    pub async fn cancelled(&self) {
        let mut cancel = self.cancel.clone();
        // An error means the worker dropped the sender: it is no longer waiting for this body.
        let _ = cancel.wait_for(|cancelled| *cancelled).await;
    }

    /// Waits, unless a user cancels first.
    pub async fn sleep(&self, duration: Duration) -> Result<(), JobError> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.cancelled() => Err(JobError::Cancelled),
        }
    }

    /// Reports progress for the run's progress bar.
    pub async fn progress(&self, done: i64, total: Option<i64>, counts: Option<&Json>) -> Result<(), JobError> {
        crate::runs::set_progress(&self.store, self.job.run_id, done, total, counts).await?;
        Ok(())
    }

    /// Records one item's result; the same key again (next attempt) replaces it.
    pub async fn item(&self, item: &NewRunItem<'_>) -> Result<(), JobError> {
        crate::runs::record_item(&self.store, self.job.run_id, item).await?;
        Ok(())
    }
}

/// One registered kind: its body, and how the scheduler makes the job of one period.
#[derive(Clone)]
pub(crate) struct Registered {
    pub(crate) body: Arc<dyn Job>,
    pub(crate) scheduled: fn(Option<AdministrationId>) -> NewJob,
}

/// The job kinds a worker can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: BTreeMap<&'static str, Registered>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.jobs.keys()).finish()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a kind.
    ///
    /// # Panics
    /// When a kind of that name is registered already: two bodies for one name is a wiring mistake.
    pub fn register<J: Job + JobType>(&mut self, job: J) -> &mut Registry {
        let registered = Registered {
            body: Arc::new(job),
            scheduled: J::scheduled,
        };
        assert!(
            self.jobs.insert(J::KIND, registered).is_none(),
            "job kind {} is registered twice",
            J::KIND
        );
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Job>> {
        self.jobs.get(kind).map(|registered| &registered.body)
    }

    pub(crate) fn registered(&self, kind: &str) -> Option<&Registered> {
        self.jobs.get(kind)
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.jobs.keys().copied().collect()
    }
}
