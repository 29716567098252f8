//! Applying one target's plan in one transaction, exactly as it was previewed.
//!
//! The plan is written in sets: per category, every item it creates in one multi-row statement (a
//! few for many items), every item it updates in another, every item it removes in a third, through
//! the store's [`koppel_store::set_write`] forms, which check what the one-record path checks and
//! stamp change positions the same way. Categories go in apply order (referenced items first),
//! removals last and in reverse.

use crate::plan::{Action, Settings, TargetPlan, plan_target, read_settings, validate, wanted};
use crate::{Selection, SettingsCategory, SettingsSyncError, SettingsSyncRequest};
use koppel_domain::AdministrationId;
use koppel_domain::RecordId;
use koppel_domain::record::Value;
use koppel_store::{Store, StoreError, WriteTx};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// The main's settings as last read, shared by the targets of one run: read again only when the
/// main's change position moved (every write to its records moves it), so each target is planned
/// against the main as it is when that target is applied, as if it had been read for it alone.
#[derive(Default)]
pub(crate) struct SourceCache {
    read: Mutex<Option<(i64, Arc<Settings>)>>,
}

impl SourceCache {
    /// The main's settings as they are now.
    async fn current(&self, store: &Store, source: AdministrationId) -> Result<Arc<Settings>, ApplyError> {
        let mut snapshot = store.snapshot().await?;
        let position = snapshot.change_position(source).await?;
        let kept = self
            .lock()
            .as_ref()
            .filter(|(read_at, _)| *read_at == position)
            .map(|(_, settings)| settings.clone());
        let settings = match kept {
            Some(settings) => settings,
            None => {
                let settings = Arc::new(read_settings(&mut snapshot, source).await?);
                *self.lock() = Some((position, settings.clone()));
                settings
            }
        };
        snapshot.rollback().await?;
        Ok(settings)
    }

    fn lock(&self) -> MutexGuard<'_, Option<(i64, Arc<Settings>)>> {
        // What is kept is replaced whole, so a panic elsewhere cannot leave it half-written.
        self.read.lock().unwrap_or_else(PoisonError::into_inner)
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
    apply_target_with(store, &SourceCache::default(), source, target, selection, digest, run).await
}

/// [`apply_target`], reusing the main's settings read for an earlier target while they are current.
pub(crate) async fn apply_target_with(
    store: &Store,
    cache: &SourceCache,
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
    if crate::received::applied_in(store, source, target, run).await? {
        return Ok(TargetOutcome::AlreadyApplied);
    }
    // The main is read before the target is locked, to keep the lock short; a change to the main
    // in between shows in the digest like any other.
    let main = cache.current(store, source).await?;
    let main = main.as_ref();
    let wanted = wanted(main, selection)?;

    let mut write = store.write(target).await?;
    let theirs = read_settings(write.tx(), target).await?;
    let plan = plan_target(write.tx(), (target, &name), main, &wanted, selection, &theirs).await?;
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
    write_plan(&mut write, &plan, main, &theirs).await?;
    crate::received::record_in(&mut write, source, run).await?;
    write.commit().await?;
    Ok(TargetOutcome::Applied(plan))
}

/// What one category's part of a plan writes.
#[derive(Default)]
struct CategoryWrites {
    creates: Vec<Vec<Value>>,
    updates: Vec<(RecordId, Vec<Value>)>,
    removals: Vec<RecordId>,
}

/// Writes the plan's changes in sets: referenced categories first, removals last and in reverse.
async fn write_plan(
    write: &mut WriteTx,
    plan: &TargetPlan,
    main: &Settings,
    theirs: &Settings,
) -> Result<(), ApplyError> {
    let mut writes: BTreeMap<(usize, SettingsCategory), CategoryWrites> = BTreeMap::new();
    for item in &plan.items {
        let category = item.category;
        let entry = writes.entry((category.apply_order(), category)).or_default();
        let copy = || theirs.get(&category).and_then(|items| items.get(&item.code));
        let original = || main.get(&category).and_then(|items| items.get(&item.code));
        let missing = || {
            ApplyError::Store(StoreError::Internal(format!(
                "the plan names {category} {} that was not read",
                item.code
            )))
        };
        match item.action {
            Action::Create => entry.creates.push(original().ok_or_else(missing)?.values.clone()),
            Action::Update => entry.updates.push((
                copy().ok_or_else(missing)?.id,
                original().ok_or_else(missing)?.values.clone(),
            )),
            Action::Remove => entry.removals.push(copy().ok_or_else(missing)?.id),
            Action::Unchanged => {}
        }
    }
    for ((_, category), part) in &writes {
        write.insert_set(category.spec(), &part.creates).await?;
        write.update_set(category.spec(), &part.updates).await?;
    }
    for ((_, category), part) in writes.iter().rev() {
        write.delete_set(category.spec(), &part.removals).await?;
    }
    Ok(())
}
