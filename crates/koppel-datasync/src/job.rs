//! `data_sync`: brings an administration's reporting dataset up to date, incrementally or in full,
//! then prunes versions no reader can still be pinned to.
//!
//! Safe to run twice: a sync starts from the last committed one. An attempt that died before its
//! commit left nothing visible behind, and the next attempt does the whole job (a full sync when the
//! dead one had written part of one).

use crate::engine::{DataSyncRequest, ProgressHook, SyncOutcome, SyncProgress};
use crate::faults::{Faults, NoFaults};
use koppel_domain::licence::PowerUp;
use koppel_jobs::runs::RunMessage;
use koppel_jobs::{Job, JobContext, JobError, JobFuture, JobType, Outcome, RunId, Scope};
use koppel_store::StoreError;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::sync::Arc;

/// The kind name of the Data Sync job (Autosync's schedules carry it too).
pub const KIND: &str = "data_sync";

/// The job kind, with how long replaced versions stay readable.
pub struct DataSync {
    pub retention: chrono::Duration,
    /// What the syncs of this worker ask before each entity set; [`NoFaults`] outside crash tests.
    pub faults: Arc<dyn Faults>,
}

impl DataSync {
    /// The job kind with the operator's snapshot retention and no faults.
    pub fn new(retention: chrono::Duration) -> DataSync {
        DataSync {
            retention,
            faults: Arc::new(NoFaults),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    #[serde(default)]
    full: bool,
}

/// Counts per entity set (`Customers.inserted`, …) and in total, flat so the run history shows them.
pub fn counts(outcome: &SyncOutcome) -> Json {
    let mut counts = serde_json::Map::new();
    counts.insert("sync".into(), json!(outcome.sync_no));
    counts.insert("full".into(), json!(outcome.full));
    counts.insert("inserted".into(), json!(outcome.inserted()));
    counts.insert("updated".into(), json!(outcome.updated()));
    counts.insert("deleted".into(), json!(outcome.deleted()));
    for table in &outcome.tables {
        counts.insert(format!("{}.inserted", table.entity_set), json!(table.inserted));
        counts.insert(format!("{}.updated", table.entity_set), json!(table.updated));
        counts.insert(format!("{}.deleted", table.entity_set), json!(table.deleted));
    }
    Json::Object(counts)
}

fn licence_message() -> RunMessage {
    RunMessage::new(
        "De Power BI-licentie is niet actief. Activeer de power-up Power BI in de Licentie Manager en synchroniseer opnieuw.",
        "The Power BI licence is not active. Activate the Power BI power-up in the Licence Manager and sync again.",
    )
}

/// A full sync's progress on its run: entity sets done of all, and rows written so far.
fn show_progress(store: koppel_store::Store, run_id: RunId) -> ProgressHook {
    ProgressHook(Arc::new(move |progress: SyncProgress| {
        let store = store.clone();
        Box::pin(async move {
            let counts = json!({"rows_written": progress.rows});
            let done = i64::try_from(progress.sets_done).unwrap_or(i64::MAX);
            let total = i64::try_from(progress.sets).ok();
            // Progress is for the eye only: a failed update must not fail the sync.
            if let Err(error) = koppel_jobs::runs::set_progress(&store, run_id, done, total, Some(&counts)).await {
                tracing::warn!(run.id = run_id.0, error = %error, "could not record the sync's progress");
            }
        })
    }))
}

impl JobType for DataSync {
    const KIND: &'static str = KIND;
    /// A second "sync now" (or a period of Autosync) joins the sync that is queued or running.
    const DEDUPLICATED: bool = true;
    /// Autosync: for the administrations that switched it on.
    const SCHEDULE: Option<Scope> = Some(Scope::Among(&crate::autosync::Autosync));

    /// Autosync's periodic syncs are incremental.
    fn scheduled_payload() -> Json {
        json!({ "full": false })
    }
}

impl Job for DataSync {
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: Payload = context.payload()?;
            let Some(administration) = context.administration() else {
                return Err(JobError::permanent(
                    RunMessage::new(
                        "Een synchronisatie hoort bij een administratie.",
                        "A sync belongs to an administration.",
                    ),
                    anyhow::anyhow!("data_sync job {} has no administration", context.job().id),
                ));
            };
            let store = context.store();
            let found = store.administration(administration).await?;
            match store.require_licence(found.environment_id, PowerUp::PowerBi).await {
                Ok(()) => {}
                Err(StoreError::Licence(error)) => return Err(JobError::permanent(licence_message(), error)),
                Err(other) => return Err(other.into()),
            }
            let request = DataSyncRequest {
                full: payload.full,
                run_id: Some(context.job().run_id.0),
                progress: Some(show_progress(store.clone(), context.job().run_id)),
                join_full_within: Some(self.retention),
                ..DataSyncRequest::default()
            };
            let outcome = crate::engine::run_with_faults(store, administration, &request, self.faults.as_ref()).await?;
            // Pruning is housekeeping: when it fails, the next sync tries again.
            if let Err(error) = crate::state::prune(store, administration, self.retention).await {
                tracing::warn!(administration.id = %administration, error = %error, "pruning old reporting versions failed");
            }
            tracing::info!(
                administration.id = %administration,
                sync.number = outcome.sync_no,
                sync.full = outcome.full,
                rows.inserted = outcome.inserted(),
                rows.updated = outcome.updated(),
                rows.deleted = outcome.deleted(),
                "data sync committed"
            );
            let kind_nl = if outcome.full {
                "Volledige synchronisatie"
            } else {
                "Synchronisatie"
            };
            let kind_en = if outcome.full { "Full sync" } else { "Sync" };
            // No moment in the text: the run page shows when it finished in the reader's own time and
            // format, which a stored sentence cannot.
            let (inserted_nl, inserted_en) = RunMessage::count(outcome.inserted());
            let (updated_nl, updated_en) = RunMessage::count(outcome.updated());
            let (deleted_nl, deleted_en) = RunMessage::count(outcome.deleted());
            let mut message = RunMessage::new(
                format!(
                    "{kind_nl} {} klaar: {inserted_nl} nieuw, {updated_nl} gewijzigd, {deleted_nl} verwijderd.",
                    outcome.sync_no
                ),
                format!(
                    "{kind_en} {} done: {inserted_en} new, {updated_en} changed, {deleted_en} deleted.",
                    outcome.sync_no
                ),
            );
            if let Some((full_sync, _)) = outcome.joined_full {
                // Why no full copy was made, although one was asked for.
                message.nl = format!(
                    "Er is binnen de bewaartermijn al alles opnieuw gesynchroniseerd (synchronisatie {full_sync}); deze \
                     synchronisatie bouwt daarop voort in plaats van nog een volledige kopie te bewaren. {}",
                    message.nl
                );
                message.en = format!(
                    "Everything was resynced within the retention period already (sync {full_sync}); this sync builds on \
                     it instead of keeping yet another full copy. {}",
                    message.en
                );
            }
            Ok(Outcome::done().counts(counts(&outcome)).message(message))
        })
    }
}
