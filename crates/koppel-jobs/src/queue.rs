//! [`Queue`]: the in-process side of enqueueing — the operator's default attempts, and the wake-up
//! call that lets this process's worker start new work at once instead of at its next poll (on
//! PostgreSQL the workers of other processes are woken by the enqueue's `NOTIFY`).

use crate::storage::jobs::{self, Enqueued, NewJob};
use koppel_store::{Store, StoreError};
use serde_json::Value as Json;
use std::sync::Arc;
use tokio::sync::Notify;

/// Enqueues jobs and wakes the workers of this process. Clones share the wake-up signal.
#[derive(Clone)]
pub struct Queue {
    store: Store,
    wake: Arc<Notify>,
    max_attempts: i64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("store", &self.store)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl Queue {
    /// `max_attempts` is the operator's default for jobs made with [`Queue::job`].
    pub fn new(store: Store, max_attempts: i64) -> Queue {
        Queue {
            store,
            wake: Arc::new(Notify::new()),
            max_attempts,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A new job with the configured number of attempts.
    pub fn job(&self, kind: &str, payload: Json) -> NewJob {
        NewJob::new(kind, payload).max_attempts(self.max_attempts)
    }

    pub fn max_attempts(&self) -> i64 {
        self.max_attempts
    }

    /// Enqueues in a transaction of its own, then wakes a worker.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, StoreError> {
        let enqueued = jobs::enqueue_committed(&self.store, job).await?;
        self.wake();
        Ok(enqueued)
    }

    /// Tells this process's workers there is new work. Call it after committing a transaction in
    /// which [`crate::enqueue`] was called. Workers in other processes hear of the job from
    /// PostgreSQL's notification, which that transaction sent (see [`crate::worker`]).
    pub fn wake(&self) {
        // notify_one keeps a permit when no worker is waiting yet, so the wake-up is not lost while
        // the worker is busy claiming.
        self.wake.notify_one();
    }

    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
