//! Koppel's background work: the job queue, the run history, the worker that runs queued jobs, the
//! scheduler that enqueues periodic work, and the built-in job kinds. Every long piece of work (a
//! Data Sync, a settings sync, an AccountView import or export) runs here, never inside a web
//! request, and leaves a run in the history.
//!
//! The queue, the schedules and the run history are tables in Koppel's own database (the store
//! keeps their schema and migrations); this crate owns their queries ([`storage`], [`runs`]) and the
//! behaviour around them: leases and heartbeats, retries with backoff, cancellation, graceful
//! shutdown, and metrics. Features enqueue with [`enqueue`] inside the transaction of the change
//! that causes the job; claims, heartbeats and outcomes are the worker's alone.
//!
//! Wiring, as the binary does it:
//!
//! ```text
//! let queue = Queue::new(store.clone(), config.max_attempts);
//! let registry = kinds::builtin(&kinds::BuiltinConfig { history_retention });
//! let worker = Worker::new(&queue, registry.clone(), worker_config);
//! let periodic = vec![Periodic::of::<PruneHistory>(interval)?];
//! let scheduler = Scheduler::new(&queue, &registry, periodic, scheduler_config)?;
//! tokio::join!(worker.run(shutdown.clone()), scheduler.run(shutdown));
//! ```

pub mod ids;
pub mod job;
pub mod kinds;
mod queue;
pub mod retry;
pub mod runs;
pub mod scheduler;
pub mod storage;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

pub use ids::{JobId, RunId};
pub use job::{Job, JobContext, JobError, JobFuture, JobType, Outcome, Registry, unique_key};
pub use queue::Queue;
pub use retry::RetryPolicy;
pub use scheduler::{Audience, AudienceFuture, Periodic, ScheduleError, Scheduler, SchedulerConfig, Scope, Tick};
pub use storage::jobs::{Enqueued, InTransaction, JobStatus, NewJob, QueuedJob, enqueue, enqueue_committed};
pub use worker::{Ended, Worker, WorkerConfig, WorkerEvent};
