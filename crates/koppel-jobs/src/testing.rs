//! Test code, only with the `testing` feature: the one way tests start a worker, and the queue's
//! lease operations for tests that play a worker by hand (a worker that dies mid-job, a run held in
//! a state on purpose). Production code reaches the same operations only through [`Worker`].

use crate::job::Registry;
use crate::queue::Queue;
use crate::retry::RetryPolicy;
use crate::storage::jobs::{self, ClaimRequest, Claimed, Finish, Heartbeat, Lease};
use crate::worker::{Worker, WorkerConfig};
use koppel_store::{Result, Store};
use std::time::Duration;

pub use crate::kinds::probe::{self, Probe, ProbeExecution, ProbePayload};

/// A worker configuration for tests: it polls often, so a test waits little for a job to start.
pub fn worker_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        retry: RetryPolicy::default(),
        ..WorkerConfig::default()
    }
}

/// How a test starts a worker: for `queue`, running the kinds in `registry`. Change the
/// configuration or the worker's id with the builder's methods, then [`TestWorker::build`] it or
/// [`TestWorker::spawn`] it in the background.
pub fn worker(queue: &Queue, registry: Registry) -> TestWorker {
    TestWorker {
        queue: queue.clone(),
        registry,
        config: worker_config(),
        id: None,
    }
}

/// A worker about to be made for a test.
pub struct TestWorker {
    queue: Queue,
    registry: Registry,
    config: WorkerConfig,
    id: Option<String>,
}

impl TestWorker {
    pub fn config(mut self, config: WorkerConfig) -> TestWorker {
        self.config = config;
        self
    }

    /// The worker's id, as `locked_by` shows it.
    pub fn id(mut self, id: &str) -> TestWorker {
        self.id = Some(id.to_string());
        self
    }

    pub fn build(self) -> Worker {
        match self.id {
            Some(id) => Worker::with_id(&self.queue, self.registry, self.config, id),
            None => Worker::new(&self.queue, self.registry, self.config),
        }
    }

    /// Runs every due job until none is due; returns how many attempts ran.
    pub async fn run_until_idle(self) -> Result<usize> {
        self.build().run_until_idle().await
    }

    /// Starts the worker in the background, as `koppel serve` runs one beside the web server.
    pub fn spawn(self) -> BackgroundWorker {
        let worker = self.build();
        let running = worker.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            running
                .run(async move {
                    // A dropped sender stops the worker too.
                    let _ = stopped.await;
                })
                .await;
        });
        BackgroundWorker {
            worker,
            stop: Some(stop),
            task,
        }
    }
}

/// A worker running in the background of a test.
pub struct BackgroundWorker {
    worker: Worker,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl BackgroundWorker {
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Stops the worker gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Claims due jobs as a worker would (see [`ClaimRequest`]).
pub async fn claim(store: &Store, request: &ClaimRequest<'_>) -> Result<Claimed> {
    jobs::claim(store, request).await
}

/// Renews a lease as a worker's heartbeat would.
pub async fn heartbeat(store: &Store, lease: &Lease, duration: chrono::Duration) -> Result<Heartbeat> {
    jobs::heartbeat(store, lease, duration).await
}

/// Records an outcome as a worker would; `false` when the lease was lost.
pub async fn finish(store: &Store, lease: &Lease, finish: &Finish) -> Result<bool> {
    jobs::finish(store, lease, finish).await
}
