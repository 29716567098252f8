//! Fault injection for crash tests: a sync asks its [`Faults`] before it writes each entity set,
//! so a test can make it fail or stop there, as a killed process would. Production code passes
//! [`NoFaults`], which does nothing; nothing test-specific lives in requests or job payloads.

use koppel_domain::AdministrationId;
use koppel_store::StoreError;
use std::future::Future;
use std::pin::Pin;

/// The future a [`Faults`] hook returns.
pub type FaultFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// What a sync does at the points a crash test may want to break it.
pub trait Faults: Send + Sync {
    /// Runs before the sync writes the entity set at `index` (in [`crate::dataset::REPORTED`]
    /// order), inside the sync's work but before its commit. An error stops the sync there (what it
    /// wrote stays invisible); a future that never completes holds it there until the process dies.
    fn before_set(&self, administration: AdministrationId, index: usize) -> FaultFuture<'_>;
}

/// No faults: every sync outside crash tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFaults;

impl Faults for NoFaults {
    fn before_set(&self, _administration: AdministrationId, _index: usize) -> FaultFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }
}
