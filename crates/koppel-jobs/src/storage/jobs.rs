//! The job queue's storage: enqueueing (in the transaction of the change that causes the job),
//! claims with a lease, heartbeats and outcomes, written once for both backends with the store's SQL
//! toolkit.
//!
//! A job is enqueued in the transaction of the change that causes it ([`enqueue`]), so a change is
//! never saved without its job. Workers claim due jobs with a lease ([`claim`]), keep the lease alive
//! with heartbeats ([`heartbeat`]), and finish the job with one of the outcomes of [`Finish`]
//! ([`finish`]). A job whose worker died keeps its `running` row until the lease passes; then the
//! next claim takes it over, or gives it up when it has used all its attempts. Every state change
//! also changes the job's run (see [`crate::runs`]) in the same transaction. Claims, heartbeats and
//! outcomes are the worker's alone: they are private to this crate.
//!
//! Claims differ per backend: PostgreSQL picks rows with `FOR UPDATE SKIP LOCKED`, so several
//! `koppel` processes share the queue without blocking on each other; SQLite runs the claim inside
//! the `BEGIN IMMEDIATE` transaction `Store::begin` starts, which makes it the only writer for its
//! duration.
//!
//! On PostgreSQL an enqueue of a job that is due at once also sends `NOTIFY koppel_jobs` in its
//! transaction, so the notification goes out only when the job is committed; every worker of every
//! process listens ([`NOTIFY_CHANNEL`], see [`crate::worker`]) and claims at once. Jobs due later
//! (scheduled, or a retry after its backoff) send none: workers find them at their next poll.
//!
//! A claim's `attempts` value is a fencing token: heartbeats and outcomes only apply while the row
//! still has the worker id *and* the attempt number of the claim, so a worker that lost its lease
//! (it paused past the lease, another worker took over) can no longer change the job.

use crate::ids::{JobId, RunId};
use crate::runs::{ItemTally, RunMessage, RunStatus, Trigger, clip_detail, corrupt};
use chrono::{DateTime, Utc};
use koppel_domain::{AdministrationId, UserId};
use koppel_store::sql::{Pool, TxInner, on_pool, on_tx};
use koppel_store::{Result, Store, StoreError, Tx, WriteTx};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub const DEFAULT_MAX_ATTEMPTS: i64 = 5;

/// The PostgreSQL channel a committed enqueue (or a hand-back) notifies, and workers listen on.
pub const NOTIFY_CHANNEL: &str = "koppel_jobs";

/// Where a job is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A job to enqueue. Build with [`NewJob::new`] and the builder methods.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    /// `None` for system jobs, which belong to no administration.
    pub administration: Option<AdministrationId>,
    pub payload: Json,
    /// Higher runs first among due jobs.
    pub priority: i64,
    /// At most one job with this key is queued or running; enqueueing another joins it.
    pub unique_key: Option<String>,
    pub max_attempts: i64,
    /// The earliest start; `None` is "now".
    pub run_at: Option<DateTime<Utc>>,
    pub trigger: Trigger,
    pub started_by: Option<UserId>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub retry_of: Option<RunId>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Json) -> NewJob {
        NewJob {
            kind: kind.into(),
            administration: None,
            payload,
            priority: 0,
            unique_key: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: None,
            trigger: Trigger::Automatic,
            started_by: None,
            scheduled_for: None,
            retry_of: None,
        }
    }

    pub fn administration(mut self, administration: AdministrationId) -> NewJob {
        self.administration = Some(administration);
        self
    }
    pub fn priority(mut self, priority: i64) -> NewJob {
        self.priority = priority;
        self
    }
    pub fn unique_key(mut self, key: impl Into<String>) -> NewJob {
        self.unique_key = Some(key.into());
        self
    }
    pub fn max_attempts(mut self, max_attempts: i64) -> NewJob {
        self.max_attempts = max_attempts;
        self
    }
    pub fn run_at(mut self, run_at: DateTime<Utc>) -> NewJob {
        self.run_at = Some(run_at);
        self
    }
    /// Started by a user on purpose.
    pub fn manual(mut self, user: UserId) -> NewJob {
        self.trigger = Trigger::Manual;
        self.started_by = Some(user);
        self
    }

    fn validate(&self) -> Result<()> {
        if self.kind.trim().is_empty() || self.kind.len() > 100 {
            return Err(StoreError::invalid(
                "kind",
                "invalid",
                "a job kind is a name of 1 to 100 characters",
            ));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(StoreError::invalid(
                "max_attempts",
                "invalid",
                "max_attempts must be between 1 and 100",
            ));
        }
        if self
            .unique_key
            .as_ref()
            .is_some_and(|key| key.is_empty() || key.len() > 200)
        {
            return Err(StoreError::invalid(
                "unique_key",
                "invalid",
                "a unique key has 1 to 200 characters",
            ));
        }
        Ok(())
    }
}

/// What enqueueing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job, with a new run.
    Created { job: JobId, run: RunId },
    /// A job with the same unique key was already queued or running: this one. Tell the user it is
    /// already queued (or running) rather than that something failed.
    Joined { job: JobId, run: RunId, status: JobStatus },
}

impl Enqueued {
    pub fn job(self) -> JobId {
        match self {
            Enqueued::Created { job, .. } | Enqueued::Joined { job, .. } => job,
        }
    }

    pub fn run(self) -> RunId {
        match self {
            Enqueued::Created { run, .. } | Enqueued::Joined { run, .. } => run,
        }
    }

    pub fn is_new(self) -> bool {
        matches!(self, Enqueued::Created { .. })
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedJob {
    pub id: JobId,
    pub run_id: RunId,
    pub kind: String,
    pub administration: Option<AdministrationId>,
    pub payload: Json,
    pub priority: i64,
    pub status: JobStatus,
    pub unique_key: Option<String>,
    /// Claims so far, including the current one.
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl QueuedJob {
    /// The lease a worker holds on this job, when it is running.
    pub fn lease(&self) -> Option<Lease> {
        let worker = self.locked_by.clone()?;
        (self.status == JobStatus::Running).then_some(Lease {
            job: self.id,
            run: self.run_id,
            worker,
            attempt: self.attempts,
        })
    }

    /// When the job became due: enqueued, scheduled or retried, whichever is later. Latency is
    /// measured from here to its start.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.run_at.max(self.created_at)
    }
}

/// Proof that a worker holds a job: only the holder of the current lease may extend or finish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job: JobId,
    pub run: RunId,
    pub worker: String,
    pub attempt: i64,
}

/// What a worker asks for when it claims.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub worker: &'a str,
    /// The kinds this worker can run; jobs of other kinds wait for a worker that knows them.
    pub kinds: &'a [&'a str],
    pub limit: u32,
    pub lease: chrono::Duration,
    pub reclaim: Reclaim,
}

/// Whether a claim also looks for jobs whose worker died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaim {
    /// Take over the jobs of dead workers that have attempts left, give up on the others, then
    /// claim due jobs. Workers do this once per poll interval rather than at every claim, which
    /// keeps the claims that follow each finished job short.
    DeadWorkersFirst,
    /// Only claim due jobs.
    DueOnly,
}

/// What a claim did.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    /// The jobs this worker now holds, due order first.
    pub jobs: Vec<QueuedJob>,
    /// Jobs whose worker died and that were given up on instead of run again: they had used their
    /// last attempt (now failed) or a user had asked to cancel them (now cancelled).
    pub given_up: Vec<QueuedJob>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The lease is extended. When a user asked to cancel, the job body should stop.
    Held { cancel_requested: bool },
    /// Another worker has the job now, or it was cancelled or deleted: stop at once.
    Lost,
}

/// How a worker ends its hold on a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Done. `partial` when some items failed (the run says "partially succeeded").
    Succeeded {
        partial: bool,
        message: Option<RunMessage>,
        counts: Option<Json>,
    },
    /// Failed in a way that may pass: queue it again to start at `run_at`.
    Retry { run_at: DateTime<Utc>, detail: String },
    /// Failed for good.
    Failed { message: RunMessage, detail: String },
    /// Stopped at a user's request.
    Cancelled,
    /// Not finished; the worker is stopping. The job goes back to the queue as it was, and the
    /// attempt does not count.
    HandBack,
}

/// Per kind: how many jobs are in each state.
pub type JobCounts = BTreeMap<(String, JobStatus), i64>;

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub runs: u64,
    pub run_items: u64,
    pub jobs: u64,
}

macro_rules! job_columns {
    () => {
        "id, kind, administration_id, payload, priority, status, unique_key, attempts, max_attempts, run_at, \
         locked_by, lease_until, cancel_requested, last_error, created_at, started_at, finished_at"
    };
}

/// The update every claim makes; `$1` worker, `$2` lease end, `$3` now.
macro_rules! claim_update {
    () => {
        "UPDATE jobs SET status = 'running', locked_by = $1, lease_until = $2, attempts = attempts + 1, \
         started_at = COALESCE(started_at, $3), updated_at = $3 WHERE "
    };
}

// Claims: `$4` the kinds (a JSON array on SQLite, a text array on PostgreSQL), `$5` the limit.
// Jobs whose worker died come first (they have waited longest), then due jobs by priority.
const SQLITE_RECLAIM: &str = concat!(
    claim_update!(),
    "id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_until < $3 AND attempts < max_attempts \
     AND NOT cancel_requested AND kind IN (SELECT value FROM json_each($4)) ORDER BY lease_until, id LIMIT $5) \
     RETURNING ",
    job_columns!()
);
const SQLITE_CLAIM: &str = concat!(
    claim_update!(),
    "id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 \
     AND kind IN (SELECT value FROM json_each($4)) ORDER BY priority DESC, run_at, id LIMIT $5) RETURNING ",
    job_columns!()
);
// `= ANY(ARRAY(…))` evaluates the locking subquery exactly once; rows another claimer holds are
// skipped rather than waited for.
const POSTGRES_RECLAIM: &str = concat!(
    claim_update!(),
    "id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'running' AND lease_until < $3 AND attempts < max_attempts \
     AND NOT cancel_requested AND kind = ANY($4) ORDER BY lease_until, id LIMIT $5 FOR UPDATE SKIP LOCKED)) \
     RETURNING ",
    job_columns!()
);
const POSTGRES_CLAIM: &str = concat!(
    claim_update!(),
    "id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 AND kind = ANY($4) \
     ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)) RETURNING ",
    job_columns!()
);

// PostgreSQL's claim of due jobs, the one that follows every finished job, in one statement and
// one round trip: it marks the jobs and their runs running and returns both. It runs outside an
// explicit transaction; `set_config(…, true)` lasts for the statement's own transaction, so its
// commit does not wait for the disk either (see `claim` for why that is safe).
const POSTGRES_CLAIM_DUE: &str = concat!(
    "WITH async_commit AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS setting), \
     claimed AS (",
    claim_update!(),
    "id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 AND kind = ANY($4) \
     ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)) RETURNING ",
    job_columns!(),
    "), started AS (UPDATE runs SET status = 'running', attempts = claimed.attempts, \
     started_at = COALESCE(runs.started_at, $3), updated_at = $3 FROM claimed WHERE runs.job_id = claimed.id \
     RETURNING runs.id AS run_id, runs.job_id) \
     SELECT claimed.*, started.run_id FROM claimed JOIN started ON started.job_id = claimed.id CROSS JOIN async_commit"
);

// Giving up on jobs whose worker died: `$1` now, `$2` the internal reason.
const SQLITE_GIVE_UP: &str = concat!(
    "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, locked_by = NULL, \
     lease_until = NULL, finished_at = $1, updated_at = $1, last_error = $2 \
     WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_until < $1 \
     AND (cancel_requested OR attempts >= max_attempts) LIMIT 100) RETURNING ",
    job_columns!()
);
const POSTGRES_GIVE_UP: &str = concat!(
    "UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, locked_by = NULL, \
     lease_until = NULL, finished_at = $1, updated_at = $1, last_error = $2 \
     WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'running' AND lease_until < $1 \
     AND (cancel_requested OR attempts >= max_attempts) LIMIT 100 FOR UPDATE SKIP LOCKED)) RETURNING ",
    job_columns!()
);

/// The guard every lease holder's statement carries: `$1` job, `$2` worker, `$3` attempt.
macro_rules! lease_guard {
    () => {
        " WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'"
    };
}

/// A transaction a job can be enqueued in: a plain one, or the change of an administration's
/// records that causes the job.
pub trait InTransaction {
    fn as_tx(&mut self) -> &mut Tx;
}

impl InTransaction for Tx {
    fn as_tx(&mut self) -> &mut Tx {
        self
    }
}

impl InTransaction for WriteTx {
    fn as_tx(&mut self) -> &mut Tx {
        self.tx()
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: JobId,
    kind: String,
    administration_id: Option<i64>,
    payload: String,
    priority: i64,
    status: String,
    unique_key: Option<String>,
    attempts: i64,
    max_attempts: i64,
    run_at: DateTime<Utc>,
    locked_by: Option<String>,
    lease_until: Option<DateTime<Utc>>,
    cancel_requested: bool,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// A claimed job with its run, as [`POSTGRES_CLAIM_DUE`] returns it.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    job: JobRow,
    run_id: RunId,
}

impl JobRow {
    fn into_job(self, run_id: RunId) -> Result<QueuedJob> {
        Ok(QueuedJob {
            id: self.id,
            run_id,
            status: JobStatus::parse(&self.status).ok_or_else(|| corrupt("job status", &self.status))?,
            payload: serde_json::from_str(&self.payload).map_err(|_| corrupt("payload", &self.payload))?,
            kind: self.kind,
            administration: self.administration_id.map(AdministrationId),
            priority: self.priority,
            unique_key: self.unique_key,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            run_at: self.run_at,
            locked_by: self.locked_by,
            lease_until: self.lease_until,
            cancel_requested: self.cancel_requested,
            last_error: self.last_error,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

/// Enqueues a job and creates its run, in this transaction: when the transaction rolls back,
/// neither exists. A job with a unique key that is already queued or running is joined instead.
pub async fn enqueue(tx: &mut impl InTransaction, job: &NewJob) -> Result<Enqueued> {
    let tx = tx.as_tx();
    job.validate()?;
    let now = tx.now;
    let run_at = job.run_at.unwrap_or(now);
    let payload = job.payload.to_string();
    // On PostgreSQL the job holding the key can finish between our insert and our look-up; then
    // the key is free again and the next round inserts.
    for _ in 0..3 {
        let inserted: Option<JobId> = on_tx!(tx, conn => sqlx::query_scalar(
            "INSERT INTO jobs (kind, administration_id, payload, priority, status, unique_key, attempts, max_attempts, \
             run_at, cancel_requested, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, FALSE, $8, $8) \
             ON CONFLICT (unique_key) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id",
        )
        .bind(job.kind.clone())
        .bind(job.administration.map(|a| a.0))
        .bind(payload.clone())
        .bind(job.priority)
        .bind(job.unique_key.clone())
        .bind(job.max_attempts)
        .bind(run_at)
        .bind(now)
        .fetch_optional(conn)
        .await)?;
        if let Some(job_id) = inserted {
            let run: RunId = on_tx!(tx, conn => sqlx::query_scalar(
                "INSERT INTO runs (job_id, kind, administration_id, trigger, started_by, retry_of, scheduled_for, \
                 status, queued_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8) RETURNING id",
            )
            .bind(job_id)
            .bind(job.kind.clone())
            .bind(job.administration.map(|a| a.0))
            .bind(job.trigger.as_str())
            .bind(job.started_by.map(|u| u.0))
            .bind(job.retry_of)
            .bind(job.scheduled_for)
            .bind(now)
            .fetch_one(conn)
            .await)?;
            if run_at <= now {
                notify_workers(tx).await?;
            }
            return Ok(Enqueued::Created { job: job_id, run });
        }
        let existing: Option<(JobId, String, RunId)> = on_tx!(tx, conn => sqlx::query_as(
            "SELECT j.id, j.status, r.id FROM jobs j JOIN runs r ON r.job_id = j.id \
             WHERE j.unique_key = $1 AND j.status IN ('queued', 'running')",
        )
        .bind(job.unique_key.clone())
        .fetch_optional(conn)
        .await)?;
        if let Some((job, status, run)) = existing {
            let status = JobStatus::parse(&status).ok_or_else(|| corrupt("job status", &status))?;
            return Ok(Enqueued::Joined { job, run, status });
        }
    }
    Err(StoreError::conflict(
        "busy",
        "the job's unique key keeps changing hands; try again",
    ))
}

/// On PostgreSQL, tells the workers of every process that a job is due, when (and only if) this
/// transaction commits. PostgreSQL sends one notification per transaction however many jobs it
/// enqueued (identical notifications are folded). On SQLite there is one process, woken by
/// [`crate::Queue::wake`].
async fn notify_workers(tx: &mut Tx) -> Result<()> {
    if let TxInner::Postgres(conn) = &mut tx.inner {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut **conn)
            .await?;
    }
    Ok(())
}

/// Ends the runs of jobs that were given up on after their worker died.
async fn finish_given_up_runs(tx: &mut Tx, jobs: &mut [QueuedJob]) -> Result<()> {
    let now = tx.now;
    for job in jobs {
        let (status, message, detail) = match job.status {
            JobStatus::Cancelled => (
                "cancelled",
                RunMessage::cancelled(),
                "the worker stopped; cancelled as requested",
            ),
            _ => (
                "failed",
                RunMessage::worker_stopped(job.attempts),
                "the worker holding the job stopped (its lease expired) on the last attempt",
            ),
        };
        let run: Option<RunId> = on_tx!(tx, conn => sqlx::query_scalar(
            "UPDATE runs SET status = $2, message_nl = $3, message_en = $4, detail = $5, finished_at = $6, \
             updated_at = $6 WHERE job_id = $1 RETURNING id",
        )
        .bind(job.id)
        .bind(status)
        .bind(message.nl)
        .bind(message.en)
        .bind(detail)
        .bind(now)
        .fetch_optional(conn)
        .await)?;
        job.run_id = run.unwrap_or(RunId(0));
    }
    Ok(())
}

/// Enqueues a job in a transaction of its own.
pub async fn enqueue_committed(store: &Store, job: &NewJob) -> Result<Enqueued> {
    let mut tx = store.begin().await?;
    let enqueued = enqueue(&mut tx, job).await?;
    tx.commit().await?;
    Ok(enqueued)
}

/// One job, whatever its state.
pub async fn job(store: &Store, id: JobId) -> Result<QueuedJob> {
    let row: Option<JobRow> = on_pool!(store.pool(), pool => sqlx::query_as(concat!(
        "SELECT ", job_columns!(), " FROM jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?;
    let row = row.ok_or(StoreError::NotFound)?;
    let run: RunId = on_pool!(store.pool(), pool => sqlx::query_scalar("SELECT id FROM runs WHERE job_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await)?
    .ok_or(StoreError::NotFound)?;
    row.into_job(run)
}

/// Claims up to `limit` due jobs for a worker. With `reclaim`, it first gives up on jobs whose
/// worker died on their last attempt (or after a user asked to cancel them) and takes over the
/// other jobs of dead workers.
pub(crate) async fn claim(store: &Store, request: &ClaimRequest<'_>) -> Result<Claimed> {
    if let (Reclaim::DueOnly, Pool::Postgres(pool)) = (request.reclaim, store.pool()) {
        let now = store.now();
        let rows: Vec<ClaimedRow> = sqlx::query_as(POSTGRES_CLAIM_DUE)
            .bind(request.worker)
            .bind(now + request.lease)
            .bind(now)
            .bind(request.kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>())
            .bind(i64::from(request.limit))
            .fetch_all(pool)
            .await?;
        let mut jobs = rows
            .into_iter()
            .map(|row| row.job.into_job(row.run_id))
            .collect::<Result<Vec<_>>>()?;
        sort_in_claim_order(&mut jobs);
        return Ok(Claimed {
            jobs,
            given_up: Vec::new(),
        });
    }
    let mut tx = store.begin().await?;
    if let TxInner::Postgres(conn) = &mut tx.inner {
        // A claim need not wait for the disk: one lost in a database crash only leaves the jobs
        // as they were before it (queued, or running under the lease of a worker that is gone
        // too), and the fenced lease refuses anything the lost claim's worker still sends. The
        // job's outcome is committed durably, which flushes the claim with it. This halves the
        // disk flushes per job.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut **conn)
            .await?;
    }
    let now = tx.now;
    let lease_until = now + request.lease;
    let reason = "the worker stopped while holding the job (lease expired)";
    let given_up_rows: Vec<JobRow> = match &mut tx.inner {
        _ if request.reclaim == Reclaim::DueOnly => Vec::new(),
        TxInner::Sqlite(conn) => {
            sqlx::query_as(SQLITE_GIVE_UP)
                .bind(now)
                .bind(reason)
                .fetch_all(&mut **conn)
                .await?
        }
        TxInner::Postgres(conn) => {
            sqlx::query_as(POSTGRES_GIVE_UP)
                .bind(now)
                .bind(reason)
                .fetch_all(&mut **conn)
                .await?
        }
    };
    let mut given_up = given_up_rows
        .into_iter()
        .map(|row| row.into_job(RunId(0)))
        .collect::<Result<Vec<_>>>()?;
    finish_given_up_runs(&mut tx, &mut given_up).await?;

    let mut rows: Vec<JobRow> = Vec::new();
    let kinds_json = serde_json::to_string(request.kinds).map_err(|error| StoreError::Internal(error.to_string()))?;
    let kinds: Vec<String> = request.kinds.iter().map(|k| k.to_string()).collect();
    let statements = [(SQLITE_RECLAIM, POSTGRES_RECLAIM), (SQLITE_CLAIM, POSTGRES_CLAIM)];
    let statements = if request.reclaim == Reclaim::DeadWorkersFirst {
        &statements[..]
    } else {
        &statements[1..]
    };
    for (sqlite, postgres) in statements.iter().copied() {
        let remaining = i64::from(request.limit) - rows.len() as i64;
        if remaining <= 0 {
            break;
        }
        let claimed: Vec<JobRow> = match &mut tx.inner {
            TxInner::Sqlite(conn) => {
                sqlx::query_as(sqlite)
                    .bind(request.worker)
                    .bind(lease_until)
                    .bind(now)
                    .bind(kinds_json.clone())
                    .bind(remaining)
                    .fetch_all(&mut **conn)
                    .await?
            }
            TxInner::Postgres(conn) => {
                sqlx::query_as(postgres)
                    .bind(request.worker)
                    .bind(lease_until)
                    .bind(now)
                    .bind(kinds.clone())
                    .bind(remaining)
                    .fetch_all(&mut **conn)
                    .await?
            }
        };
        rows.extend(claimed);
    }
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        let run: RunId = on_tx!(tx, conn => sqlx::query_scalar(
            "UPDATE runs SET status = 'running', attempts = $2, started_at = COALESCE(started_at, $3), \
             updated_at = $3 WHERE job_id = $1 RETURNING id",
        )
        .bind(row.id)
        .bind(row.attempts)
        .bind(now)
        .fetch_one(conn)
        .await)?;
        jobs.push(row.into_job(run)?);
    }
    tx.commit().await?;
    sort_in_claim_order(&mut jobs);
    Ok(Claimed { jobs, given_up })
}

/// RETURNING has no order; hand jobs out in the order they were picked.
fn sort_in_claim_order(jobs: &mut [QueuedJob]) {
    jobs.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.run_at.cmp(&b.run_at))
            .then(a.id.cmp(&b.id))
    });
}

/// Extends a lease by `lease` from now, if the worker still holds it.
pub(crate) async fn heartbeat(store: &Store, lease: &Lease, duration: chrono::Duration) -> Result<Heartbeat> {
    let now = store.now();
    let cancel_requested: Option<bool> = on_pool!(store.pool(), pool => sqlx::query_scalar(concat!(
        "UPDATE jobs SET lease_until = $4, updated_at = $5", lease_guard!(), " RETURNING cancel_requested"
    ))
    .bind(lease.job)
    .bind(lease.worker.clone())
    .bind(lease.attempt)
    .bind(now + duration)
    .bind(now)
    .fetch_optional(pool)
    .await)?;
    Ok(match cancel_requested {
        Some(cancel_requested) => Heartbeat::Held { cancel_requested },
        None => Heartbeat::Lost,
    })
}

/// Ends a worker's hold on a job, and updates its run to match, in one transaction. `false` when
/// the worker no longer held the lease: then nothing changed.
pub(crate) async fn finish(store: &Store, lease: &Lease, finish: &Finish) -> Result<bool> {
    if let (
        Finish::Succeeded {
            partial,
            message,
            counts,
        },
        Pool::Postgres(pool),
    ) = (finish, store.pool())
    {
        return succeed_on_postgres(pool, store.now(), lease, *partial, message.as_ref(), counts.as_ref()).await;
    }
    let mut tx = store.begin().await?;
    let now = tx.now;
    let job_updated = match finish {
        Finish::Succeeded { .. } | Finish::Failed { .. } | Finish::Cancelled => {
            let (status, last_error) = match finish {
                Finish::Succeeded { .. } => ("succeeded", None),
                Finish::Failed { detail, .. } => ("failed", Some(clip_detail(detail))),
                _ => ("cancelled", None),
            };
            on_tx!(tx, conn => sqlx::query(concat!(
                "UPDATE jobs SET status = $4, last_error = COALESCE($5, last_error), locked_by = NULL, \
                 lease_until = NULL, finished_at = $6, updated_at = $6",
                lease_guard!()
            ))
            .bind(lease.job)
            .bind(lease.worker.clone())
            .bind(lease.attempt)
            .bind(status)
            .bind(last_error)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?
        }
        Finish::Retry { run_at, detail } => on_tx!(tx, conn => sqlx::query(concat!(
            "UPDATE jobs SET status = 'queued', run_at = $4, last_error = $5, locked_by = NULL, lease_until = NULL, \
             updated_at = $6",
            lease_guard!()
        ))
        .bind(lease.job)
        .bind(lease.worker.clone())
        .bind(lease.attempt)
        .bind(*run_at)
        .bind(clip_detail(detail))
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?,
        Finish::HandBack => on_tx!(tx, conn => sqlx::query(concat!(
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, locked_by = NULL, lease_until = NULL, \
             updated_at = $4",
            lease_guard!()
        ))
        .bind(lease.job)
        .bind(lease.worker.clone())
        .bind(lease.attempt)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?,
    };
    if job_updated == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    match finish {
        Finish::Succeeded {
            partial,
            message,
            counts,
        } => {
            // The items have the last word: a run none of whose items succeeded has failed, even
            // when its job ended without an error ("0 of 1 exported" is no partial success).
            let (succeeded_items, failed_items): (i64, i64) = on_tx!(tx, conn => sqlx::query_as(
                "SELECT COALESCE(SUM(CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0) \
                 FROM run_items i JOIN runs r ON r.id = i.run_id WHERE r.job_id = $1",
            )
            .bind(lease.job)
            .fetch_one(conn)
            .await)?;
            let status = RunStatus::after_success(
                *partial,
                ItemTally {
                    succeeded: succeeded_items,
                    failed: failed_items,
                },
            );
            let message = message.clone().unwrap_or_else(|| RunMessage::default_for(status));
            let (nl, en) = (Some(message.nl), Some(message.en));
            let status = status.as_str();
            on_tx!(tx, conn => sqlx::query(
                "UPDATE runs SET status = $2, message_nl = $3, message_en = $4, counts = COALESCE($5, counts), \
                 detail = NULL, finished_at = $6, updated_at = $6 WHERE job_id = $1",
            )
            .bind(lease.job)
            .bind(status)
            .bind(nl)
            .bind(en)
            .bind(counts.as_ref().map(Json::to_string))
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Finish::Retry { detail, .. } => {
            on_tx!(tx, conn => sqlx::query(
                "UPDATE runs SET status = 'queued', detail = $2, updated_at = $3 WHERE job_id = $1",
            )
            .bind(lease.job)
            .bind(clip_detail(detail))
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Finish::Failed { message, detail } => {
            on_tx!(tx, conn => sqlx::query(
                "UPDATE runs SET status = 'failed', message_nl = $2, message_en = $3, detail = $4, finished_at = $5, \
                 updated_at = $5 WHERE job_id = $1",
            )
            .bind(lease.job)
            .bind(message.nl.clone())
            .bind(message.en.clone())
            .bind(clip_detail(detail))
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Finish::Cancelled => {
            let message = RunMessage::cancelled();
            on_tx!(tx, conn => sqlx::query(
                "UPDATE runs SET status = 'cancelled', message_nl = $2, message_en = $3, finished_at = $4, \
                 updated_at = $4 WHERE job_id = $1",
            )
            .bind(lease.job)
            .bind(message.nl)
            .bind(message.en)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Finish::HandBack => {
            on_tx!(tx, conn => sqlx::query(
                "UPDATE runs SET status = 'queued', attempts = attempts - 1, updated_at = $2 WHERE job_id = $1",
            )
            .bind(lease.job)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
            // Due again at once: another process's worker may take it now.
            notify_workers(&mut tx).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// The successful end of a job on PostgreSQL, in one statement (one round trip, committed
/// durably): the job's update under its lease guard, the tally of its run's items, and the run's
/// update, whose status the tally picks from the three [`RunStatus::after_success`] can give.
async fn succeed_on_postgres(
    pool: &sqlx::PgPool,
    now: DateTime<Utc>,
    lease: &Lease,
    partial: bool,
    message: Option<&RunMessage>,
    counts: Option<&Json>,
) -> Result<bool> {
    // Without failed items; with failed items and none succeeded; with both.
    let outcomes = [
        ItemTally::default(),
        ItemTally {
            succeeded: 0,
            failed: 1,
        },
        ItemTally {
            succeeded: 1,
            failed: 1,
        },
    ]
    .map(|tally| {
        let status = RunStatus::after_success(partial, tally);
        let message = message.cloned().unwrap_or_else(|| RunMessage::default_for(status));
        (status.as_str(), message)
    });
    let mut query = sqlx::query(
        "WITH done AS (UPDATE jobs SET status = 'succeeded', locked_by = NULL, lease_until = NULL, \
         finished_at = $4, updated_at = $4 WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running' \
         RETURNING id), \
         tally AS (SELECT COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0) AS succeeded, \
         COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed FROM run_items WHERE run_id = $5), \
         outcome AS (SELECT CASE WHEN tally.failed = 0 THEN 0 WHEN tally.succeeded = 0 THEN 1 ELSE 2 END AS pick FROM tally) \
         UPDATE runs SET \
         status = (ARRAY[$7, $10, $13]::text[])[outcome.pick + 1], \
         message_nl = (ARRAY[$8, $11, $14]::text[])[outcome.pick + 1], \
         message_en = (ARRAY[$9, $12, $15]::text[])[outcome.pick + 1], \
         counts = COALESCE($6, runs.counts), detail = NULL, finished_at = $4, updated_at = $4 \
         FROM done, outcome WHERE runs.job_id = done.id",
    )
    .bind(lease.job)
    .bind(lease.worker.as_str())
    .bind(lease.attempt)
    .bind(now)
    .bind(lease.run)
    .bind(counts.map(Json::to_string));
    for (status, message) in outcomes {
        query = query.bind(status).bind(message.nl).bind(message.en);
    }
    let updated = query.execute(pool).await?.rows_affected();
    Ok(updated > 0)
}

/// How many jobs of each kind are in each state.
pub async fn job_counts(store: &Store) -> Result<JobCounts> {
    counts_by_kind_and_status(store, "SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status").await
}

/// How many jobs wait or run now, per kind and state (for the queue-depth metric).
pub async fn queue_depth(store: &Store) -> Result<JobCounts> {
    counts_by_kind_and_status(
        store,
        "SELECT kind, status, COUNT(*) FROM jobs WHERE status IN ('queued', 'running') GROUP BY kind, status",
    )
    .await
}

/// Runs a `kind, status, COUNT(*)` query and reads its rows into counts.
async fn counts_by_kind_and_status(store: &Store, query: &'static str) -> Result<JobCounts> {
    let rows: Vec<(String, String, i64)> = on_pool!(store.pool(), pool => sqlx::query_as(query)
        .fetch_all(pool)
        .await)?;
    let mut counts = JobCounts::new();
    for (kind, status, count) in rows {
        let status = JobStatus::parse(&status).ok_or_else(|| corrupt("job status", &status))?;
        counts.insert((kind, status), count);
    }
    Ok(counts)
}

/// Removes runs, their items and jobs that finished before `finished_before`, in small batches so
/// no single transaction holds the tables for long. Unfinished work is never removed.
pub(crate) async fn prune_history(store: &Store, finished_before: DateTime<Utc>) -> Result<Pruned> {
    const BATCH: i64 = 500;
    let mut pruned = Pruned::default();
    loop {
        let mut tx = store.begin().await?;
        let items = on_tx!(tx, conn => sqlx::query(
            "DELETE FROM run_items WHERE run_id IN (SELECT id FROM runs WHERE finished_at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(finished_before)
        .bind(BATCH)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        let runs = on_tx!(tx, conn => sqlx::query(
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE finished_at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(finished_before)
        .bind(BATCH)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        let jobs = on_tx!(tx, conn => sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at < $1 \
             AND status IN ('succeeded', 'failed', 'cancelled') ORDER BY id LIMIT $2)",
        )
        .bind(finished_before)
        .bind(BATCH)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        pruned.run_items += items;
        pruned.runs += runs;
        pruned.jobs += jobs;
        if runs < BATCH as u64 && jobs < BATCH as u64 {
            break;
        }
    }
    on_pool!(store.pool(), pool => sqlx::query(
        "DELETE FROM job_probe_executions WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = job_probe_executions.job_id)",
    )
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(pruned)
}
