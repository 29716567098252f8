//! Koppel's background work: the worker that runs queued jobs, the scheduler that enqueues periodic
//! work, and the built-in job kinds. Every long piece of work (a Data Sync, a settings sync, an
//! AccountView import or export) runs here, never inside a web request, and leaves a run in the
//! history.
//!
//! The queue, the schedules and the run history are tables in Koppel's own database, reached through
//! `koppel_store::queue` and `koppel_store::runs`; this crate holds the behaviour around them:
//! leases and heartbeats, retries with backoff, cancellation, graceful shutdown, and metrics.
//!
//! Wiring, as the binary does it:
//!
//! ```text
//! let queue = Queue::new(store.clone(), config.max_attempts);
//! let registry = kinds::builtin(&kinds::BuiltinConfig { history_retention });
//! let worker = Worker::new(&queue, registry.clone(), worker_config);
//! let scheduler = Scheduler::new(&queue, &registry, periodic, scheduler_config)?;
//! tokio::join!(worker.run(shutdown.clone()), scheduler.run(shutdown));
//! ```

pub mod job;
pub mod kinds;
mod queue;
pub mod retry;
pub mod scheduler;
mod telemetry;
pub mod worker;

pub use job::{Job, JobContext, JobError, JobFuture, Outcome, Registry};
pub use queue::Queue;
pub use retry::RetryPolicy;
pub use scheduler::{Periodic, ScheduleError, Scheduler, SchedulerConfig, Tick};
pub use worker::{Ended, Worker, WorkerConfig, WorkerEvent};
