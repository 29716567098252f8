//! `prune_history`: the periodic system job that removes finished runs (with their items) and
//! finished jobs older than the configured retention. Unfinished work is never pruned.

use crate::job::{Job, JobContext, JobFuture, JobType, Outcome};
use crate::runs::RunMessage;
use crate::scheduler::Scope;
use serde_json::json;

pub const KIND: &str = "prune_history";

pub struct PruneHistory {
    pub retention: chrono::Duration,
}

impl JobType for PruneHistory {
    const KIND: &'static str = KIND;
    /// A period that comes round while the previous prune still runs joins it.
    const DEDUPLICATED: bool = true;
    const SCHEDULE: Option<Scope> = Some(Scope::System);
}

impl Job for PruneHistory {
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let store = context.store();
            let cutoff = store.now() - self.retention;
            // Deleting again what an earlier attempt deleted is a no-op, so a rerun is harmless.
            let pruned = crate::storage::jobs::prune_history(store, cutoff).await?;
            tracing::info!(
                runs = pruned.runs,
                run_items = pruned.run_items,
                jobs = pruned.jobs,
                cutoff = %cutoff,
                "pruned the run history"
            );
            Ok(Outcome::done()
                .counts(json!({"runs": pruned.runs, "run_items": pruned.run_items, "jobs": pruned.jobs}))
                .message(RunMessage::new(
                    format!(
                        "{} afgeronde runs van vóór {} opgeruimd.",
                        pruned.runs,
                        cutoff.format("%d-%m-%Y")
                    ),
                    format!(
                        "Removed {} finished runs from before {}.",
                        pruned.runs,
                        cutoff.format("%Y-%m-%d")
                    ),
                )))
        })
    }
}
