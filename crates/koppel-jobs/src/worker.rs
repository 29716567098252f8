//! The worker: claims due jobs, runs each under a lease it keeps alive with heartbeats, records how
//! each attempt ended, and on shutdown stops claiming, lets running jobs finish within a grace
//! period and hands back the ones that do not.
//!
//! What the worker guarantees about one attempt:
//! - the body runs only while the worker holds the lease; when a heartbeat finds the lease gone
//!   (another worker took the job over, or it was deleted) or cannot renew it before it runs out, the
//!   body is dropped at once and nothing is recorded;
//! - a user's cancellation reaches the body as [`JobContext::cancelled`]; a body that does not stop
//!   within the grace period is dropped and the run recorded as cancelled;
//! - a panicking body fails its run; it does not take the worker down.
//!
//! How a worker learns of new work: an enqueue in its own process wakes it through the [`Queue`];
//! on PostgreSQL it also listens on [`jobs::NOTIFY_CHANNEL`], which every committed enqueue of a job
//! due at once notifies, so a job enqueued by any process starts on an idle worker at once. The
//! poll every `poll_interval` stays as the safety net: it finds jobs that become due later
//! (scheduled, retries after their backoff), jobs of dead workers, and anything enqueued while the
//! listening connection was down. A lost listening connection is logged and made again; the worker
//! polls meanwhile.

use crate::ids::{JobId, RunId};
use crate::job::{JobContext, JobError, Registry};
use crate::queue::Queue;
use crate::retry::RetryPolicy;
use crate::runs::RunMessage;
use crate::storage::jobs::{self, ClaimRequest, Finish, Heartbeat, JobStatus, Lease, QueuedJob, Reclaim};
use crate::telemetry;
use futures_util::FutureExt;
use koppel_store::sql::Pool;
use koppel_store::{Store, StoreError};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

/// How a worker runs jobs; from the operator's `[jobs]` configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at the same time by this worker.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs (a wake-up from this process, or on PostgreSQL a
    /// notification from any process, comes sooner).
    pub poll_interval: Duration,
    /// How long a claim holds a job without a heartbeat.
    pub lease: Duration,
    /// How often the lease is renewed and a cancellation looked for.
    pub heartbeat_interval: Duration,
    /// How long running jobs may go on after shutdown starts (or after a cancellation request).
    pub grace_period: Duration,
    pub retry: RetryPolicy,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(5),
            grace_period: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// How one attempt ended, as far as the worker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    PartiallySucceeded,
    /// Failed, and will be tried again after a backoff.
    Retrying,
    Failed,
    Cancelled,
    /// The worker stopped and gave the job back to the queue.
    HandedBack,
    /// The worker no longer held the lease; the job is someone else's now.
    LeaseLost,
    /// The outcome could not be written (database unreachable); the job runs again after its lease.
    NotRecorded,
}

/// What a worker tells its subscribers (tests, and anything that wants to watch it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerEvent {
    Started {
        job: JobId,
        run: RunId,
        kind: String,
        attempt: i64,
    },
    Finished {
        job: JobId,
        run: RunId,
        kind: String,
        ended: Ended,
    },
    /// A job whose worker died was given up on (last attempt used, or cancellation requested).
    GaveUp {
        job: JobId,
        run: RunId,
        kind: String,
        status: JobStatus,
    },
}

/// A job worker. Clones are the same worker.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry: Registry,
    kinds: Vec<&'static str>,
    config: WorkerConfig,
    id: String,
    wake: Arc<Notify>,
    events: broadcast::Sender<WorkerEvent>,
}

/// Why supervising a body stopped.
enum Stop {
    Body(std::thread::Result<Result<crate::Outcome, JobError>>),
    LeaseLost,
    CancelOverdue,
    HandBack,
}

impl Worker {
    /// A worker for the kinds in `registry`, woken by `queue`'s enqueues.
    pub fn new(queue: &Queue, registry: Registry, config: WorkerConfig) -> Worker {
        Worker::with_id(queue, registry, config, default_id())
    }

    /// A worker with a chosen id (it shows as `locked_by` on the jobs it holds).
    pub fn with_id(queue: &Queue, registry: Registry, mut config: WorkerConfig, id: String) -> Worker {
        config.concurrency = config.concurrency.max(1);
        let (events, _) = broadcast::channel(1024);
        Worker {
            inner: Arc::new(Inner {
                store: queue.store().clone(),
                kinds: registry.kinds(),
                registry,
                config,
                id,
                wake: queue.waker(),
                events,
            }),
        }
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Events from now on. A slow subscriber misses events rather than slowing the worker down.
    pub fn subscribe(&self) -> broadcast::Receiver<WorkerEvent> {
        self.inner.events.subscribe()
    }

    /// Runs until `shutdown` completes, then stops gracefully: no new claims, running jobs get the
    /// grace period, and the ones still running after it are handed back to the queue.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let config = &self.inner.config;
        tokio::pin!(shutdown);
        let (stop_sender, stop) = watch::channel(false);
        let mut running = JoinSet::new();
        tracing::info!(
            worker.id = %self.inner.id,
            worker.kinds = ?self.inner.kinds,
            worker.concurrency = config.concurrency,
            "job worker started"
        );
        let _listener = match self.inner.store.pool() {
            Pool::Postgres(pool) => Some(AbortOnDrop(tokio::spawn(listen(
                pool.clone(),
                self.inner.wake.clone(),
                self.inner.id.clone(),
            )))),
            Pool::Sqlite(_) => None,
        };
        // Dead workers' jobs are looked for once per poll interval, not at every claim.
        let mut next_reclaim = Instant::now();
        loop {
            let free = config.concurrency.saturating_sub(running.len());
            if free > 0 {
                let reclaim = if Instant::now() >= next_reclaim {
                    next_reclaim = Instant::now() + config.poll_interval;
                    Reclaim::DeadWorkersFirst
                } else {
                    Reclaim::DueOnly
                };
                match self.claim(free, reclaim).await {
                    Ok(jobs) => {
                        if jobs.len() == free {
                            // There may be more: let a sibling worker of this process look too.
                            self.inner.wake.notify_one();
                        }
                        for job in jobs {
                            running.spawn(self.clone().execute(job, stop.clone()));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(worker.id = %self.inner.id, error = %error, "claiming jobs failed; trying again at the next poll");
                    }
                }
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = running.join_next(), if !running.is_empty() => {
                    log_join(joined);
                    // Every job that has ended frees its place, so the next claim takes them all at once.
                    while let Some(joined) = running.try_join_next() {
                        log_join(joined);
                    }
                }
                () = self.inner.wake.notified(), if running.len() < config.concurrency => {}
                () = tokio::time::sleep(config.poll_interval), if running.len() < config.concurrency => {}
            }
        }
        tracing::info!(
            worker.id = %self.inner.id,
            jobs.running = running.len(),
            grace_ms = config.grace_period.as_millis() as u64,
            "job worker stopping: no new jobs; running jobs get the grace period"
        );
        let grace = tokio::time::sleep(config.grace_period);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = running.join_next() => match joined {
                    Some(joined) => log_join(joined),
                    None => break,
                },
                () = &mut grace => {
                    stop_sender.send_replace(true);
                    while let Some(joined) = running.join_next().await {
                        log_join(joined);
                    }
                    break;
                }
            }
        }
        tracing::info!(worker.id = %self.inner.id, "job worker stopped");
    }

    /// Claims and runs due jobs until none are due, then returns how many attempts it ran. For
    /// tests, benchmarks and one-off maintenance; a long-lived process uses [`Worker::run`].
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let (_stop_sender, stop) = watch::channel(false);
        let mut total = 0;
        loop {
            let jobs = self
                .claim(self.inner.config.concurrency, Reclaim::DeadWorkersFirst)
                .await?;
            if jobs.is_empty() {
                return Ok(total);
            }
            total += jobs.len();
            let mut running = JoinSet::new();
            for job in jobs {
                running.spawn(self.clone().execute(job, stop.clone()));
            }
            while let Some(joined) = running.join_next().await {
                log_join(joined);
            }
        }
    }

    async fn claim(&self, limit: usize, reclaim: Reclaim) -> Result<Vec<QueuedJob>, StoreError> {
        let inner = &self.inner;
        let started = Instant::now();
        let claimed = jobs::claim(
            &inner.store,
            &ClaimRequest {
                worker: &inner.id,
                kinds: &inner.kinds,
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
                lease: chrono_duration(inner.config.lease),
                reclaim,
            },
        )
        .await?;
        telemetry::claimed(started.elapsed(), claimed.jobs.len());
        for job in claimed.given_up {
            tracing::warn!(
                job.id = job.id.0,
                run.id = job.run_id.0,
                job.kind = %job.kind,
                job.attempts = job.attempts,
                job.status = job.status.as_str(),
                "the worker holding this job stopped; gave the job up"
            );
            let status = if job.status == JobStatus::Cancelled {
                "cancelled"
            } else {
                "failed"
            };
            telemetry::run_finished(&job.kind, status);
            self.emit(WorkerEvent::GaveUp {
                job: job.id,
                run: job.run_id,
                kind: job.kind,
                status: job.status,
            });
        }
        Ok(claimed.jobs)
    }

    fn emit(&self, event: WorkerEvent) {
        // Nobody listening is normal.
        let _ = self.inner.events.send(event);
    }

    /// Runs one claimed attempt from start to recorded outcome.
    async fn execute(self, job: QueuedJob, mut stop: watch::Receiver<bool>) {
        let Some(lease) = job.lease() else { return };
        let kind = job.kind.clone();
        let started = Instant::now();
        let latency = (self.inner.store.now() - job.due_at()).to_std().unwrap_or_default();
        telemetry::job_started(&kind, latency);
        self.emit(WorkerEvent::Started {
            job: job.id,
            run: job.run_id,
            kind: kind.clone(),
            attempt: job.attempts,
        });
        tracing::debug!(job.id = job.id.0, run.id = job.run_id.0, job.kind = %kind, job.attempt = job.attempts, "job started");
        let finish = match self.inner.registry.get(&kind).cloned() {
            Some(body) => self.supervise(body, job, &lease, &mut stop).await,
            // Claims only take registered kinds, so this is a wiring mistake; it will not get better.
            None => Some(Finish::Failed {
                message: RunMessage::new(
                    "Deze versie van Koppel kent dit soort taak niet.",
                    "This version of Koppel does not know this kind of job.",
                ),
                detail: format!("no job kind {kind} is registered in worker {}", self.inner.id),
            }),
        };
        let ended = match finish {
            Some(finish) => self.record(&lease, &kind, finish).await,
            None => Ended::LeaseLost,
        };
        telemetry::job_ended(&kind, started.elapsed(), ended);
        self.emit(WorkerEvent::Finished {
            job: lease.job,
            run: lease.run,
            kind,
            ended,
        });
    }

    /// Runs the body while keeping the lease; returns what to record, or `None` when the lease is
    /// lost (then there is nothing this worker may record).
    async fn supervise(
        &self,
        body: Arc<dyn crate::Job>,
        job: QueuedJob,
        lease: &Lease,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Finish> {
        let inner = &self.inner;
        let config = &inner.config;
        let attempts = job.attempts;
        let max_attempts = job.max_attempts;
        let (cancel_sender, cancel) = watch::channel(false);
        let context = JobContext {
            store: inner.store.clone(),
            job,
            worker: inner.id.clone(),
            cancel,
        };
        let mut run = Box::pin(AssertUnwindSafe(body.run(&context)).catch_unwind());
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + config.heartbeat_interval, config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut lease_held_until = Instant::now() + config.lease;
        let mut cancel_deadline: Option<Instant> = None;
        let stopped = loop {
            tokio::select! {
                result = &mut run => break Stop::Body(result),
                _ = heartbeat.tick() => {
                    let sent = Instant::now();
                    match jobs::heartbeat(&inner.store, lease, chrono_duration(config.lease)).await {
                        Ok(Heartbeat::Held { cancel_requested }) => {
                            lease_held_until = sent + config.lease;
                            if cancel_requested && cancel_deadline.is_none() {
                                tracing::info!(job.id = lease.job.0, run.id = lease.run.0, "cancellation requested; asking the job to stop");
                                cancel_sender.send_replace(true);
                                cancel_deadline = Some(Instant::now() + config.grace_period);
                            }
                        }
                        Ok(Heartbeat::Lost) => break Stop::LeaseLost,
                        Err(error) => {
                            tracing::warn!(job.id = lease.job.0, error = %error, "heartbeat failed");
                            // Past the lease another worker may have taken the job: stop, to never run it twice at once.
                            if Instant::now() >= lease_held_until {
                                break Stop::LeaseLost;
                            }
                        }
                    }
                    if cancel_deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        break Stop::CancelOverdue;
                    }
                }
                () = stopping(stop) => break Stop::HandBack,
            }
        };
        // The body must be gone before anything is recorded: a handed-back job may start elsewhere at once.
        drop(run);
        let cancel_requested = *cancel_sender.borrow();
        Some(match stopped {
            Stop::LeaseLost => {
                tracing::warn!(job.id = lease.job.0, run.id = lease.run.0, worker.id = %inner.id, "lost the lease; stopped the job");
                return None;
            }
            Stop::HandBack => Finish::HandBack,
            Stop::CancelOverdue => Finish::Cancelled,
            Stop::Body(Ok(Ok(outcome))) => Finish::Succeeded {
                partial: outcome.partial,
                // Without a message of the job's own, the store words one for the run's final status
                // (which the run's items may turn into "failed").
                message: outcome.message,
                counts: outcome.counts,
            },
            // Whatever else the body says after a cancellation request, the user asked it to stop.
            Stop::Body(Ok(Err(_))) if cancel_requested => Finish::Cancelled,
            Stop::Body(Ok(Err(JobError::Cancelled))) => Finish::Cancelled,
            Stop::Body(Ok(Err(JobError::Permanent { message, detail }))) => Finish::Failed {
                message,
                detail: format!("{detail:#}"),
            },
            Stop::Body(Ok(Err(JobError::Transient(error)))) if attempts < max_attempts => {
                let delay = config.retry.delay(attempts, &mut rand::rng());
                Finish::Retry {
                    run_at: inner.store.now() + chrono_duration(delay),
                    detail: format!("{error:#}"),
                }
            }
            Stop::Body(Ok(Err(JobError::Transient(error)))) => Finish::Failed {
                message: RunMessage::new(
                    format!(
                        "De taak is na {attempts} pogingen mislukt. De technische oorzaak is vastgelegd voor de beheerder."
                    ),
                    format!(
                        "The job failed after {attempts} attempts. The technical cause has been recorded for the administrator."
                    ),
                ),
                detail: format!("gave up after {attempts} attempts; last error: {error:#}"),
            },
            Stop::Body(Err(panic)) => Finish::Failed {
                message: RunMessage::new(
                    "Er ging binnen Koppel iets mis; de fout is vastgelegd.",
                    "Something went wrong inside Koppel; the error has been recorded.",
                ),
                detail: format!("the job panicked: {}", panic_message(panic.as_ref())),
            },
        })
    }

    /// Writes the outcome, trying a few times: a lost write means the job runs again.
    async fn record(&self, lease: &Lease, kind: &str, finish: Finish) -> Ended {
        let ended = match &finish {
            Finish::Succeeded { partial: true, .. } => Ended::PartiallySucceeded,
            Finish::Succeeded { .. } => Ended::Succeeded,
            Finish::Retry { .. } => Ended::Retrying,
            Finish::Failed { .. } => Ended::Failed,
            Finish::Cancelled => Ended::Cancelled,
            Finish::HandBack => Ended::HandedBack,
        };
        let mut tries = 0;
        loop {
            tries += 1;
            match jobs::finish(&self.inner.store, lease, &finish).await {
                Ok(true) => break,
                Ok(false) => {
                    tracing::warn!(
                        job.id = lease.job.0,
                        run.id = lease.run.0,
                        "the lease was lost before the outcome was recorded"
                    );
                    return Ended::LeaseLost;
                }
                Err(error) if tries < 3 => {
                    tracing::warn!(job.id = lease.job.0, error = %error, "recording the outcome failed; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(error) => {
                    tracing::error!(job.id = lease.job.0, run.id = lease.run.0, error = %error, "could not record the outcome; the job will run again after its lease");
                    return Ended::NotRecorded;
                }
            }
        }
        match &finish {
            Finish::Failed { detail, .. } => {
                tracing::warn!(job.id = lease.job.0, run.id = lease.run.0, job.kind = %kind, error = %detail, "job failed")
            }
            Finish::Retry { run_at, detail } => {
                tracing::info!(job.id = lease.job.0, run.id = lease.run.0, job.kind = %kind, error = %detail, retry_at = %run_at, "job failed; will retry")
            }
            Finish::HandBack => {
                tracing::info!(job.id = lease.job.0, run.id = lease.run.0, job.kind = %kind, "job handed back")
            }
            _ => {
                tracing::debug!(job.id = lease.job.0, run.id = lease.run.0, job.kind = %kind, ended = ?ended, "job ended")
            }
        }
        ended
    }
}

/// Aborts a background task when the worker that started it stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens on PostgreSQL for committed enqueues and wakes the worker for each, for as long as the
/// worker runs. A lost connection is logged and made again, waiting longer after each failure;
/// the worker polls meanwhile, and is woken once the listening starts again, to find what was
/// enqueued in between.
async fn listen(pool: PgPool, wake: Arc<Notify>, worker: String) {
    let mut failures: u32 = 0;
    loop {
        match start_listening(&pool).await {
            Ok(mut listener) => {
                if failures > 0 {
                    tracing::info!(worker.id = %worker, "listening for new jobs again");
                }
                failures = 0;
                telemetry::listening(true);
                wake.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => wake.notify_one(),
                        Ok(None) => {
                            // sqlx made the connection again (and listens on it) before answering.
                            tracing::warn!(
                                worker.id = %worker,
                                "the connection listening for new jobs was lost and is made again; jobs enqueued meanwhile are found now"
                            );
                            wake.notify_one();
                        }
                        Err(error) => {
                            if pool.is_closed() {
                                return;
                            }
                            tracing::warn!(
                                worker.id = %worker,
                                error = %error,
                                "the connection listening for new jobs failed; polling every poll interval until it is made again"
                            );
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(
                    worker.id = %worker,
                    error = %error,
                    "cannot listen for new jobs; polling every poll interval until listening works"
                );
            }
        }
        telemetry::listening(false);
        failures = failures.saturating_add(1);
        // 0.1 s, 0.2 s, 0.4 s … at most 10 s between attempts.
        let delay = Duration::from_millis(100).saturating_mul(1 << failures.min(7)) / 2;
        tokio::time::sleep(delay.min(Duration::from_secs(10))).await;
    }
}

async fn start_listening(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(jobs::NOTIFY_CHANNEL).await?;
    Ok(listener)
}

/// Completes when the worker starts handing jobs back.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not Send): drop it here.
    if stop.wait_for(|stopping| *stopping).await.is_err() {
        // The worker dropped the sender; it no longer stops anyone.
        std::future::pending::<()>().await;
    }
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(error = %error, "a job execution task failed");
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_string())
}

pub(crate) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `host-pid-xxxx`: unique per process, and readable in `locked_by` when looking for a stuck job.
pub fn default_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "koppel".to_string());
    format!("{host}-{}-{:04x}", std::process::id(), rand::random::<u16>())
}
