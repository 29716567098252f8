//! `settings_sync`: applies a confirmed preview to each target, one transaction per target (on
//! PostgreSQL a few targets at once, on SQLite one after the other). One failing target does not stop
//! the others; the run then ends partially succeeded.

use crate::apply::{ApplyError, SourceCache, TargetOutcome, apply_target_with};
use crate::plan::{Action, BlockReason, Blocker, Plan, TargetPlan};
use crate::{Selection, SettingsCategory};
use futures_util::StreamExt;
use koppel_domain::{AdministrationId, UserId};
use koppel_jobs::runs::{ItemStatus, NewRunItem, RunMessage};
use koppel_jobs::{Enqueued, Job, JobContext, JobError, JobFuture, JobType, Outcome};
use koppel_store::{Backend, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub const KIND: &str = "settings_sync";

/// What a settings sync job carries: the confirmed selection and each target's previewed digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsSyncPayload {
    pub source: AdministrationId,
    pub selection: Selection,
    /// Per target, in the order they are applied: its id and the digest of the plan the user saw.
    pub targets: Vec<(AdministrationId, String)>,
}

/// Enqueues the sync of a previewed plan, started by `user`. When a sync of this main is already
/// queued or running, that one is returned instead (check [`Enqueued::is_new`]).
pub async fn enqueue(store: &Store, plan: &Plan, user: UserId) -> Result<Enqueued, StoreError> {
    let payload = SettingsSyncPayload {
        source: plan.source,
        selection: plan.selection.clone(),
        targets: plan.targets.iter().map(|t| (t.target, t.digest.clone())).collect(),
    };
    let payload = serde_json::to_value(payload).map_err(|error| StoreError::Internal(error.to_string()))?;
    let job = SettingsSyncJob::job(Some(plan.source), payload).manual(user);
    koppel_jobs::enqueue_committed(store, &job).await
}

/// The job kind; register it in the worker's registry.
pub struct SettingsSyncJob;

fn action_message(item: &crate::ItemPlan) -> RunMessage {
    let (nl, en) = match item.action {
        Action::Create => ("Aangemaakt", "Created"),
        Action::Update => ("Bijgewerkt", "Updated"),
        Action::Remove => ("Verwijderd", "Removed"),
        Action::Unchanged => ("Ongewijzigd", "Unchanged"),
    };
    let fields = |dutch: bool| {
        let changed: Vec<String> = item
            .changes
            .iter()
            .map(|c| crate::field_name(c.field, dutch).to_lowercase())
            .collect();
        if changed.is_empty() {
            String::new()
        } else {
            format!(" ({})", changed.join(", "))
        }
    };
    RunMessage::new(
        format!(
            "{nl}: {} {} “{}”{}",
            item.category.name_nl().to_lowercase(),
            item.code,
            item.name,
            fields(true)
        ),
        format!(
            "{en}: {} {} “{}”{}",
            item.category.name_en().to_lowercase(),
            item.code,
            item.name,
            fields(false)
        ),
    )
}

/// Why a blocker blocks, in both languages.
pub fn blocker_message(blocker: &Blocker) -> RunMessage {
    let item_nl = format!("{} {}", blocker.category.name_nl().to_lowercase(), blocker.code);
    let item_en = format!("{} {}", blocker.category.name_en().to_lowercase(), blocker.code);
    match &blocker.reason {
        BlockReason::UsedByDailyData { resource } => RunMessage::new(
            format!("{item_nl} kan niet worden verwijderd: de dagelijkse gegevens ({resource}) gebruiken het nog."),
            format!("{item_en} cannot be removed: daily data ({resource}) still uses it."),
        ),
        BlockReason::UsedBySetting { category, code } => RunMessage::new(
            format!(
                "{item_nl} kan niet worden verwijderd: {} {code} verwijst er nog naar.",
                category.name_nl().to_lowercase()
            ),
            format!(
                "{item_en} cannot be removed: {} {code} still refers to it.",
                category.name_en().to_lowercase()
            ),
        ),
    }
}

/// How many targets are applied at once: several on PostgreSQL, where each is its own transaction on
/// its own connection and they lock nothing in common; one on SQLite, which has one writer.
pub const POSTGRES_TARGETS_AT_ONCE: usize = 4;

fn targets_at_once(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => POSTGRES_TARGETS_AT_ONCE,
        Backend::Sqlite => 1,
    }
}

/// The tally, also when a target's future panicked while holding it (its figures are still right).
fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}

fn counts(tally: &Mutex<Tally>) -> serde_json::Value {
    lock(tally).counts()
}

#[derive(Default)]
struct Tally {
    created: usize,
    updated: usize,
    removed: usize,
    unchanged: usize,
    succeeded: usize,
    failed: usize,
    /// Each target's state for the progress per target: queued, running, succeeded or failed.
    targets: Vec<(AdministrationId, String, &'static str)>,
}

impl Tally {
    fn add(&mut self, plan: &TargetPlan) {
        self.created += plan.count(Action::Create);
        self.updated += plan.count(Action::Update);
        self.removed += plan.count(Action::Remove);
        self.unchanged += plan.count(Action::Unchanged);
    }

    fn counts(&self) -> serde_json::Value {
        let targets: Vec<serde_json::Value> = self
            .targets
            .iter()
            .map(|(id, name, status)| json!({"id": id, "name": name, "status": status}))
            .collect();
        json!({
            "created": self.created, "updated": self.updated, "removed": self.removed,
            "unchanged": self.unchanged, "targets_succeeded": self.succeeded, "targets_failed": self.failed,
            "targets": targets,
        })
    }

    fn set(&mut self, index: usize, status: &'static str) {
        if let Some(target) = self.targets.get_mut(index) {
            target.2 = status;
        }
    }
}

impl JobType for SettingsSyncJob {
    const KIND: &'static str = KIND;
    /// One settings sync per main at a time: a second confirmation joins the queued or running one.
    const DEDUPLICATED: bool = true;
}

impl Job for SettingsSyncJob {
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: SettingsSyncPayload = context.payload()?;
            let store = context.store();
            let run = context.job().run_id;
            let total = payload.targets.len() as i64;
            let names: BTreeMap<AdministrationId, String> = store
                .administrations(store.administration(payload.source).await?.environment_id)
                .await?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect();
            let tally = Tally {
                targets: payload
                    .targets
                    .iter()
                    .map(|(id, _)| (*id, names.get(id).cloned().unwrap_or_else(|| id.to_string()), "queued"))
                    .collect(),
                ..Tally::default()
            };
            let tally = Mutex::new(tally);
            let cache = SourceCache::default();
            let (source, selection) = (payload.source, &payload.selection);
            context.progress(0, Some(total), Some(&counts(&tally))).await?;
            let mut applying = futures_util::stream::iter(payload.targets.iter().cloned().enumerate())
                .map(|(index, (target, digest))| {
                    let (tally, cache) = (&tally, &cache);
                    async move {
                        if context.is_cancelled() {
                            return Err(JobError::Cancelled);
                        }
                        lock(tally).set(index, "running");
                        let outcome = apply_target_with(store, cache, source, target, selection, &digest, run.0).await;
                        if let Ok(TargetOutcome::Applied(plan)) = &outcome {
                            let items: Vec<(String, RunMessage)> = plan
                                .items
                                .iter()
                                .filter(|i| i.action != Action::Unchanged)
                                .map(|item| {
                                    (
                                        format!("{target}/{}/{}", item.category, item.code),
                                        action_message(item),
                                    )
                                })
                                .collect();
                            crate::items::record_succeeded(store, run, &items).await?;
                        }
                        Ok((index, target, outcome))
                    }
                })
                .buffer_unordered(targets_at_once(store.backend()));
            let mut done = 0;
            while let Some(applied) = applying.next().await {
                let (index, target, outcome) = applied?;
                let name = names.get(&target).cloned().unwrap_or_else(|| target.to_string());
                let target_key = format!("{target}");
                let (status, message) = match outcome {
                    Ok(TargetOutcome::Applied(plan)) => {
                        let mut tally = lock(&tally);
                        tally.add(&plan);
                        tally.succeeded += 1;
                        let message = if plan.has_changes() {
                            let (created_nl, created_en) = RunMessage::count(plan.count(Action::Create) as u64);
                            let (updated_nl, updated_en) = RunMessage::count(plan.count(Action::Update) as u64);
                            let (removed_nl, removed_en) = RunMessage::count(plan.count(Action::Remove) as u64);
                            RunMessage::new(
                                format!(
                                    "{name}: {created_nl} aangemaakt, {updated_nl} bijgewerkt, {removed_nl} verwijderd."
                                ),
                                format!("{name}: {created_en} created, {updated_en} updated, {removed_en} removed."),
                            )
                        } else {
                            RunMessage::new(
                                format!("{name}: geen wijzigingen, alles was al gelijk."),
                                format!("{name}: no changes, everything was already the same."),
                            )
                        };
                        (ItemStatus::Succeeded, message)
                    }
                    Ok(TargetOutcome::AlreadyApplied) => {
                        lock(&tally).succeeded += 1;
                        (
                            ItemStatus::Succeeded,
                            RunMessage::new(format!("{name}: bijgewerkt."), format!("{name}: updated.")),
                        )
                    }
                    Err(error) if error.is_transient() => return Err(JobError::transient(error)),
                    Err(error) => {
                        lock(&tally).failed += 1;
                        tracing::warn!(administration.id = %target, error = %error, "settings sync of a target failed");
                        (ItemStatus::Failed, failure_message(&name, &error))
                    }
                };
                lock(&tally).set(
                    index,
                    if status == ItemStatus::Succeeded {
                        "succeeded"
                    } else {
                        "failed"
                    },
                );
                context
                    .item(&NewRunItem {
                        key: &target_key,
                        status,
                        message: Some(message),
                        detail: None,
                    })
                    .await?;
                done += 1;
                context.progress(done, Some(total), Some(&counts(&tally))).await?;
            }
            drop(applying);
            let tally = tally.into_inner().unwrap_or_else(PoisonError::into_inner);
            let changed = tally.created + tally.updated + tally.removed;
            let summary = if tally.failed > 0 {
                RunMessage::new(
                    format!(
                        "{} van {} subadministraties bijgewerkt; {} mislukt. Bekijk de resultaten per subadministratie.",
                        tally.succeeded, total, tally.failed
                    ),
                    format!(
                        "{} of {} sub-administrations updated; {} failed. See the result per sub-administration.",
                        tally.succeeded, total, tally.failed
                    ),
                )
            } else if changed == 0 {
                RunMessage::new(
                    "Geen wijzigingen: de subadministraties waren al gelijk aan de hoofdadministratie.",
                    "No changes: the sub-administrations already matched the main administration.",
                )
            } else {
                let (created_nl, created_en) = RunMessage::count(tally.created as u64);
                let (updated_nl, updated_en) = RunMessage::count(tally.updated as u64);
                let (removed_nl, removed_en) = RunMessage::count(tally.removed as u64);
                RunMessage::new(
                    format!(
                        "{total} subadministraties bijgewerkt: {created_nl} aangemaakt, {updated_nl} bijgewerkt, \
                         {removed_nl} verwijderd."
                    ),
                    format!(
                        "{total} sub-administrations updated: {created_en} created, {updated_en} updated, \
                         {removed_en} removed."
                    ),
                )
            };
            if tally.failed > 0 && tally.succeeded == 0 {
                return Err(JobError::permanent(summary, anyhow::anyhow!("every target failed")));
            }
            let outcome = Outcome::done().message(summary).counts(tally.counts());
            Ok(if tally.failed > 0 { outcome.partial() } else { outcome })
        })
    }
}

fn failure_message(name: &str, error: &ApplyError) -> RunMessage {
    match error {
        ApplyError::Stale => RunMessage::new(
            format!(
                "{name}: niet bijgewerkt, omdat de instellingen na het voorbeeld zijn gewijzigd. Bekijk het voorbeeld opnieuw."
            ),
            format!("{name}: not updated, because the settings changed after the preview. Preview again."),
        ),
        ApplyError::Blocked(plan) => {
            let reasons: Vec<RunMessage> = plan.blockers.iter().map(blocker_message).collect();
            RunMessage::new(
                format!(
                    "{name}: niet bijgewerkt. {}",
                    reasons.iter().map(|r| r.nl.as_str()).collect::<Vec<_>>().join(" ")
                ),
                format!(
                    "{name}: not updated. {}",
                    reasons.iter().map(|r| r.en.as_str()).collect::<Vec<_>>().join(" ")
                ),
            )
        }
        ApplyError::Sync(_) => RunMessage::new(
            format!(
                "{name}: niet bijgewerkt, omdat deze administratie geen subadministratie van de hoofdadministratie (meer) is."
            ),
            format!(
                "{name}: not updated, because this administration is not (or no longer) a sub-administration of the main."
            ),
        ),
        ApplyError::Store(_) => RunMessage::new(
            format!("{name}: niet bijgewerkt; er is niets veranderd. De instellingen konden niet worden opgeslagen."),
            format!("{name}: not updated; nothing was changed. The settings could not be stored."),
        ),
    }
}

/// What confirming a previewed sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The sync was enqueued (or, `joined`, a sync of this main was already queued or running).
    Enqueued { run: i64, joined: bool },
    /// The main or a target changed since the preview: here is the preview as it is now.
    Outdated(Plan),
    /// A target has blockers: deselect it or resolve them first.
    Blocked(Plan),
}

/// Confirms a previewed sync: only when every target's plan is still the one the user saw (its
/// digest) and nothing blocks is the sync enqueued.
pub async fn confirm(
    store: &Store,
    request: &crate::SettingsSyncRequest,
    digests: &BTreeMap<AdministrationId, String>,
    user: UserId,
) -> Result<Confirmation, crate::SettingsSyncError> {
    let plan = crate::preview(store, request).await?;
    let unchanged = plan.targets.len() == digests.len()
        && plan
            .targets
            .iter()
            .all(|t| digests.get(&t.target).is_some_and(|seen| *seen == t.digest));
    if !unchanged {
        return Ok(Confirmation::Outdated(plan));
    }
    if plan.targets.iter().any(|t| !t.blockers.is_empty()) {
        return Ok(Confirmation::Blocked(plan));
    }
    let enqueued = enqueue(store, &plan, user).await?;
    Ok(Confirmation::Enqueued {
        run: enqueued.run().0,
        joined: !enqueued.is_new(),
    })
}

/// A sub as the first step of the wizard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetStatus {
    pub target: AdministrationId,
    pub name: String,
    /// When it last received settings from this main.
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether its settings differ from the main's now in what it last received (what that sync's
    /// selection would create or update again); a sub that never received settings is compared on
    /// everything.
    pub drifted: bool,
}

/// The selection a target last received, from the job of that run while the job is kept.
async fn last_selection(store: &Store, source: AdministrationId, run: i64) -> Option<Selection> {
    let run = koppel_jobs::runs::run(store, source, koppel_jobs::RunId(run))
        .await
        .ok()?;
    let job = koppel_jobs::storage::jobs::job(store, run.job_id).await.ok()?;
    serde_json::from_value::<SettingsSyncPayload>(job.payload)
        .ok()
        .map(|payload| payload.selection)
}

/// Every sub of a main, with when it was last synced and whether it has drifted since.
///
/// A sub that received only some settings (the help: "Jij bepaalt wat wordt meegenomen") is in
/// step when those settings still match the main's; comparing it on every category instead would
/// call it "differs" right after a successful sync of what the user chose.
pub async fn targets(store: &Store, source: AdministrationId) -> Result<Vec<TargetStatus>, crate::SettingsSyncError> {
    let main = store.administration(source).await?;
    if !main.is_main {
        return Err(crate::SettingsSyncError::NotMain);
    }
    let subs: Vec<_> = store
        .administrations(main.environment_id)
        .await?
        .into_iter()
        .filter(|a| !a.is_main)
        .collect();
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    let everything = Selection {
        categories: SettingsCategory::ALL.into_iter().collect(),
        ..Selection::default()
    };
    let last = crate::received::last_synced(store, source).await?;
    // Subs that last received the same selection are previewed together.
    let mut groups: Vec<(Selection, Vec<AdministrationId>)> = Vec::new();
    for sub in &subs {
        let received = match last.iter().find(|l| l.target == sub.id) {
            Some(l) => last_selection(store, source, l.run).await,
            None => None,
        };
        let selection = received
            .filter(|selection| !selection.touched().is_empty())
            .unwrap_or_else(|| everything.clone());
        match groups.iter_mut().find(|(s, _)| *s == selection) {
            Some((_, targets)) => targets.push(sub.id),
            None => groups.push((selection, vec![sub.id])),
        }
    }
    let mut drifted = BTreeMap::new();
    for (selection, targets) in groups {
        let request = crate::SettingsSyncRequest {
            source,
            targets,
            selection,
        };
        let plan = match crate::preview(store, &request).await {
            Ok(plan) => plan,
            // The item the sub last received is gone from the main: the sub differs.
            Err(crate::SettingsSyncError::UnknownItem { .. }) => {
                for target in request.targets {
                    drifted.insert(target, true);
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        for target in plan.targets {
            drifted.insert(target.target, target.has_changes());
        }
    }
    Ok(subs
        .into_iter()
        .map(|sub| TargetStatus {
            last_synced_at: last.iter().find(|l| l.target == sub.id).map(|l| l.at),
            drifted: drifted.get(&sub.id).copied().unwrap_or(true),
            target: sub.id,
            name: sub.name,
        })
        .collect())
}
