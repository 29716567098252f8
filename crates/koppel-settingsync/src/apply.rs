//! Applying one target's plan in one transaction, exactly as it was previewed.

use crate::plan::{Action, TargetPlan, plan_target, read_settings, validate, wanted};
use crate::{Selection, SettingsSyncError, SettingsSyncRequest};
use koppel_domain::AdministrationId;
use koppel_domain::RecordId;
use koppel_store::{Store, StoreError};

/// What applying did to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetOutcome {
    /// The plan was applied (it may have had no changes).
    Applied(TargetPlan),
    /// This run had applied it already (the job is running again after its worker stopped).
    AlreadyApplied,
}

/// Why a target was not applied. Nothing of it was changed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The main or the target changed after the preview; the user must look again.
    #[error("the settings changed after the preview")]
    Stale,
    /// Something in the plan cannot be applied (see the preview's blockers).
    #[error("the plan has blockers")]
    Blocked(TargetPlan),
    #[error(transparent)]
    Sync(#[from] SettingsSyncError),
    #[error("applying failed: {0}")]
    Store(#[from] StoreError),
}

impl ApplyError {
    /// Whether trying again later may help (a busy or unreachable database).
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::Store(error) | ApplyError::Sync(SettingsSyncError::Store(error)) => error.is_transient(),
            _ => false,
        }
    }
}

/// Applies a previewed sync to one target, in one transaction, if its plan is still the one with
/// `digest`. `run` is the run doing it, noted on the target so that a repeated attempt of the same
/// run knows it was done.
pub async fn apply_target(
    store: &Store,
    source: AdministrationId,
    target: AdministrationId,
    selection: &Selection,
    digest: &str,
    run: i64,
) -> Result<TargetOutcome, ApplyError> {
    let request = SettingsSyncRequest {
        source,
        targets: vec![target],
        selection: selection.clone(),
    };
    let (_, name) = validate(store, &request).await?.remove(0);
    let already = crate::received::last_synced(store, source)
        .await?
        .into_iter()
        .any(|last| last.target == target && last.run == run);
    if already {
        return Ok(TargetOutcome::AlreadyApplied);
    }
    // The main is read before the target is locked, to keep the lock short; a change to the main
    // in between shows in the digest like any other.
    let mut snapshot = store.snapshot().await?;
    let main = read_settings(&mut snapshot, source).await?;
    snapshot.rollback().await?;
    let wanted = wanted(&main, selection)?;

    let mut write = store.write(target).await?;
    let theirs = read_settings(write.tx(), target).await?;
    let plan = plan_target(write.tx(), (target, &name), &main, &wanted, selection, &theirs).await?;
    if plan.digest != digest {
        write.rollback().await?;
        return Err(ApplyError::Stale);
    }
    if !plan.blockers.is_empty() {
        write.rollback().await?;
        return Err(ApplyError::Blocked(plan));
    }
    if !plan.has_changes() {
        // Nothing to write: no change position is used up, only the sync is noted.
        write.rollback().await?;
        crate::received::record(store, source, target, run).await?;
        return Ok(TargetOutcome::Applied(plan));
    }
    // Referenced items first (the plan is in apply order), removals last and in reverse.
    for item in plan
        .items
        .iter()
        .filter(|i| matches!(i.action, Action::Create | Action::Update))
    {
        let spec = item.category.spec();
        let values = main[&item.category][&item.code].values.clone();
        match item.action {
            Action::Create => {
                write.insert(spec, values).await?;
            }
            _ => {
                let id: RecordId = theirs[&item.category][&item.code].id;
                write.update(spec, id, values.into_iter().map(Some).collect()).await?;
            }
        }
    }
    for item in plan.items.iter().rev().filter(|i| i.action == Action::Remove) {
        let id = theirs[&item.category][&item.code].id;
        write.delete(item.category.spec(), id).await?;
    }
    crate::received::record_in(&mut write, source, run).await?;
    write.commit().await?;
    Ok(TargetOutcome::Applied(plan))
}
