//! The run history: one record per background job, for every kind of work (Data Sync, settings sync,
//! AccountView import and export, housekeeping), with its items, progress and a message for users.
//!
//! A run is created in the transaction that enqueues its job (see [`crate::storage::jobs`]) and follows the
//! job through its life: every change of a job's state changes its run in the same transaction, so
//! the history never says "running" about a job nobody runs. Users read runs; only operators read
//! the internal `detail`.

use crate::ids::{JobId, RunId};
use crate::storage::jobs::{Enqueued, NewJob, enqueue};
use chrono::{DateTime, Utc};
use koppel_domain::{AdministrationId, UserId};
use koppel_store::platform::Actor;
use koppel_store::sql::{on_pool, on_tx};
use koppel_store::{Result, Store, StoreError};
use serde::Serialize;
use serde_json::Value as Json;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    PartiallySucceeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::PartiallySucceeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::PartiallySucceeded => "partially_succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The status of a run whose job ended without an error: failed when it has items and none of
    /// them succeeded (N ≥ 1 failed, 0 succeeded), partially succeeded when some failed or the job
    /// says so, else succeeded. Skipped items count neither way.
    pub fn after_success(partial: bool, items: ItemTally) -> RunStatus {
        if items.failed > 0 && items.succeeded == 0 {
            RunStatus::Failed
        } else if partial || items.failed > 0 {
            RunStatus::PartiallySucceeded
        } else {
            RunStatus::Succeeded
        }
    }

    /// Whether the run has ended and will not change any more.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// How many of a run's items succeeded and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemTally {
    pub succeeded: i64,
    pub failed: i64,
}

/// Why a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// By the scheduler or as a consequence of another change.
    Automatic,
    /// By a user, on purpose.
    Manual,
    /// By a user, repeating a run that failed or was cancelled.
    Retry,
}

impl Trigger {
    pub const ALL: [Trigger; 3] = [Trigger::Automatic, Trigger::Manual, Trigger::Retry];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// A message for users, in both languages Koppel speaks. Internal detail (errors, SQL, stack traces)
/// never goes here; it goes into a run's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMessage {
    pub nl: String,
    pub en: String,
}

impl RunMessage {
    pub fn new(nl: impl Into<String>, en: impl Into<String>) -> RunMessage {
        RunMessage {
            nl: nl.into(),
            en: en.into(),
        }
    }

    /// A count as each language writes it in a message: `6.999` in Dutch, `6,999` in English (the
    /// pages write numbers the same way).
    pub fn count(value: u64) -> (String, String) {
        let digits = value.to_string();
        let grouped = |separator: char| {
            let mut out = String::with_capacity(digits.len() + digits.len() / 3);
            for (index, digit) in digits.chars().enumerate() {
                if index > 0 && (digits.len() - index).is_multiple_of(3) {
                    out.push(separator);
                }
                out.push(digit);
            }
            out
        };
        (grouped('.'), grouped(','))
    }

    /// The worker that ran the job stopped (crashed or was killed) on the job's last attempt.
    pub fn worker_stopped(attempts: i64) -> RunMessage {
        RunMessage::new(
            format!(
                "De verwerking is afgebroken: het proces dat deze taak uitvoerde is gestopt (poging {attempts}). \
                 Start de taak opnieuw; neem contact op met de beheerder als dit blijft gebeuren."
            ),
            format!(
                "Processing was interrupted: the process running this job stopped (attempt {attempts}). \
                 Start the job again; contact your administrator if this keeps happening."
            ),
        )
    }

    /// What a run that ended with `status` says when its job gave no message of its own.
    pub fn default_for(status: RunStatus) -> RunMessage {
        match status {
            RunStatus::PartiallySucceeded => RunMessage::new(
                "Gedeeltelijk voltooid; zie de onderdelen.",
                "Partially completed; see the items.",
            ),
            RunStatus::Failed => RunMessage::new(
                "Mislukt: geen enkel onderdeel is gelukt; zie de onderdelen.",
                "Failed: none of the items succeeded; see the items.",
            ),
            _ => RunMessage::new("Voltooid.", "Completed."),
        }
    }

    /// A user cancelled the run.
    pub fn cancelled() -> RunMessage {
        RunMessage::new(
            "Geannuleerd op verzoek van een gebruiker.",
            "Cancelled at a user's request.",
        )
    }
}

/// One run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: RunId,
    pub job_id: JobId,
    pub kind: String,
    pub administration: Option<AdministrationId>,
    pub trigger: Trigger,
    pub started_by: Option<UserId>,
    pub cancelled_by: Option<UserId>,
    pub retry_of: Option<RunId>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub counts: Json,
    pub message: Option<RunMessage>,
    /// For operators: the internal reason behind the message (an error chain, say).
    pub detail: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Running, but its worker's lease has run out: the worker stopped (crashed, was killed, lost
    /// the database) and the job is waiting to be taken over by another worker, or given up.
    pub recovering: bool,
}

/// The result for one item of a run (one record exported, one settings item pushed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Succeeded,
    Failed,
    Skipped,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Succeeded => "succeeded",
            ItemStatus::Failed => "failed",
            ItemStatus::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<ItemStatus> {
        [ItemStatus::Succeeded, ItemStatus::Failed, ItemStatus::Skipped]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunItem {
    pub id: i64,
    pub run_id: RunId,
    /// What the item is, stable across attempts: `work-orders/123`, `workflow:INSTALLATIE`.
    pub key: String,
    pub status: ItemStatus,
    pub message: Option<RunMessage>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// An item result to record.
#[derive(Debug, Clone)]
pub struct NewRunItem<'a> {
    pub key: &'a str,
    pub status: ItemStatus,
    pub message: Option<RunMessage>,
    pub detail: Option<&'a str>,
}

/// What a run list asks for. Runs come newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub kind: Option<String>,
    pub status: Option<RunStatus>,
    pub trigger: Option<Trigger>,
    /// Keyset cursor: only runs with a smaller id.
    pub before: Option<RunId>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// The cursor of the next (older) page, when there is one.
    pub next_before: Option<RunId>,
}

#[derive(Debug, Clone)]
pub struct RunItemPage {
    pub items: Vec<RunItem>,
    pub next_after: Option<i64>,
}

/// What [`cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The run had not started; it is cancelled now.
    Cancelled,
    /// The run is running; its worker has been asked to stop and will mark it cancelled.
    Requested,
}

macro_rules! run_columns {
    () => {
        "id, job_id, kind, administration_id, trigger, started_by, cancelled_by, retry_of, scheduled_for, status, \
         attempts, cancel_requested, progress_done, progress_total, counts, message_nl, message_en, detail, \
         queued_at, started_at, finished_at, updated_at, \
         (SELECT j.lease_until FROM jobs j WHERE j.id = runs.job_id AND j.status = 'running') AS lease_until"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: RunId,
    job_id: JobId,
    kind: String,
    administration_id: Option<i64>,
    trigger: String,
    started_by: Option<i64>,
    cancelled_by: Option<i64>,
    retry_of: Option<RunId>,
    scheduled_for: Option<DateTime<Utc>>,
    status: String,
    attempts: i64,
    cancel_requested: bool,
    progress_done: i64,
    progress_total: Option<i64>,
    counts: String,
    message_nl: Option<String>,
    message_en: Option<String>,
    detail: Option<String>,
    queued_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    /// The job's lease while it runs.
    lease_until: Option<DateTime<Utc>>,
}

impl RunRow {
    /// The run as of `now` (which decides whether a running job's lease has run out).
    fn at(self, now: DateTime<Utc>) -> Result<Run> {
        let expired = self.lease_until.is_some_and(|until| until < now);
        let mut run = Run::try_from(self)?;
        run.recovering = run.status == RunStatus::Running && expired;
        Ok(run)
    }
}

/// A value the database holds that this code does not know: a newer version wrote it, or a bug.
pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("unknown {what} '{value}' in the database").into(),
    ))
}

pub(crate) fn message(nl: Option<String>, en: Option<String>) -> Option<RunMessage> {
    match (nl, en) {
        (Some(nl), Some(en)) => Some(RunMessage { nl, en }),
        _ => None,
    }
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run> {
        Ok(Run {
            id: row.id,
            job_id: row.job_id,
            trigger: Trigger::parse(&row.trigger).ok_or_else(|| corrupt("trigger", &row.trigger))?,
            status: RunStatus::parse(&row.status).ok_or_else(|| corrupt("run status", &row.status))?,
            counts: serde_json::from_str(&row.counts).map_err(|_| corrupt("counts", &row.counts))?,
            kind: row.kind,
            administration: row.administration_id.map(AdministrationId),
            started_by: row.started_by.map(UserId),
            cancelled_by: row.cancelled_by.map(UserId),
            retry_of: row.retry_of,
            scheduled_for: row.scheduled_for,
            attempts: row.attempts,
            cancel_requested: row.cancel_requested,
            progress_done: row.progress_done,
            progress_total: row.progress_total,
            message: message(row.message_nl, row.message_en),
            detail: row.detail,
            queued_at: row.queued_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            updated_at: row.updated_at,
            recovering: false,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RunItemRow {
    id: i64,
    run_id: RunId,
    item_key: String,
    status: String,
    message_nl: Option<String>,
    message_en: Option<String>,
    detail: Option<String>,
    at: DateTime<Utc>,
}

impl TryFrom<RunItemRow> for RunItem {
    type Error = StoreError;

    fn try_from(row: RunItemRow) -> Result<RunItem> {
        Ok(RunItem {
            id: row.id,
            run_id: row.run_id,
            status: ItemStatus::parse(&row.status).ok_or_else(|| corrupt("item status", &row.status))?,
            key: row.item_key,
            message: message(row.message_nl, row.message_en),
            detail: row.detail,
            at: row.at,
        })
    }
}

/// Keeps an item key or detail within reason: they come from job bodies, which may quote whole
/// remote answers.
fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

pub(crate) const MAX_DETAIL_CHARS: usize = 4000;

pub(crate) fn clip_detail(detail: &str) -> String {
    clip(detail, MAX_DETAIL_CHARS)
}

/// One run of an administration. Runs of other administrations are "not found", like records.
pub async fn run(store: &Store, administration: AdministrationId, run: RunId) -> Result<Run> {
    let row: Option<RunRow> = on_pool!(store.pool(), pool => sqlx::query_as(concat!(
        "SELECT ", run_columns!(), " FROM runs WHERE id = $1 AND administration_id = $2"
    ))
    .bind(run)
    .bind(administration.0)
    .fetch_optional(pool)
    .await)?;
    row.ok_or(StoreError::NotFound)?.at(store.now())
}

/// Any run, including system runs that belong to no administration (for workers and operators).
pub async fn any_run(store: &Store, run: RunId) -> Result<Run> {
    let row: Option<RunRow> = on_pool!(store.pool(), pool => sqlx::query_as(concat!(
        "SELECT ", run_columns!(), " FROM runs WHERE id = $1"
    ))
    .bind(run)
    .fetch_optional(pool)
    .await)?;
    row.ok_or(StoreError::NotFound)?.at(store.now())
}

/// An administration's runs, newest first, filtered and paged.
pub async fn list(store: &Store, administration: AdministrationId, filter: &RunFilter) -> Result<RunPage> {
    let limit = filter.limit.clamp(1, 1000);
    let rows: Vec<RunRow> = on_pool!(store.pool(), pool => sqlx::query_as(concat!(
        "SELECT ", run_columns!(), " FROM runs WHERE administration_id = $1 AND id < $2 \
         AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR trigger = $5) \
         ORDER BY id DESC LIMIT $6"
    ))
    .bind(administration.0)
    .bind(filter.before.map_or(i64::MAX, |run| run.0))
    .bind(filter.kind.clone())
    .bind(filter.status.map(RunStatus::as_str))
    .bind(filter.trigger.map(Trigger::as_str))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await)?;
    let now = store.now();
    let mut runs = rows.into_iter().map(|row| row.at(now)).collect::<Result<Vec<_>>>()?;
    let next_before = if runs.len() > limit as usize {
        runs.truncate(limit as usize);
        runs.last().map(|run| run.id)
    } else {
        None
    };
    Ok(RunPage { runs, next_before })
}

/// A run's item results in the order they were first recorded, paged.
pub async fn items(
    store: &Store,
    administration: AdministrationId,
    run: RunId,
    after: Option<i64>,
    limit: u32,
) -> Result<RunItemPage> {
    let limit = limit.clamp(1, 1000);
    let rows: Vec<RunItemRow> = on_pool!(store.pool(), pool => sqlx::query_as(
        "SELECT id, run_id, item_key, status, message_nl, message_en, detail, at FROM run_items \
         WHERE run_id = $1 AND administration_id = $2 AND id > $3 ORDER BY id LIMIT $4",
    )
    .bind(run)
    .bind(administration.0)
    .bind(after.unwrap_or(0))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await)?;
    let mut items = rows.into_iter().map(RunItem::try_from).collect::<Result<Vec<_>>>()?;
    let next_after = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|item| item.id)
    } else {
        None
    };
    Ok(RunItemPage { items, next_after })
}

/// Reports how far a running run has got. Ignored once the run is no longer running, so a worker
/// that lost its job cannot overwrite the history of the one that took it over with stale figures.
pub async fn set_progress(
    store: &Store,
    run: RunId,
    done: i64,
    total: Option<i64>,
    counts: Option<&Json>,
) -> Result<bool> {
    let now = store.now();
    let counts = counts.map(Json::to_string);
    let updated = on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE runs SET progress_done = $2, progress_total = $3, counts = COALESCE($4, counts), updated_at = $5 \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(run)
    .bind(done)
    .bind(total)
    .bind(counts)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(updated > 0)
}

/// Records the result of one item of a run; recording the same key again (a retried attempt)
/// replaces the earlier result.
pub async fn record_item(store: &Store, run: RunId, item: &NewRunItem<'_>) -> Result<()> {
    if item.key.trim().is_empty() {
        return Err(StoreError::invalid("key", "required", "an item needs a key"));
    }
    let now = store.now();
    let (nl, en) = item.message.clone().map_or((None, None), |m| (Some(m.nl), Some(m.en)));
    let inserted = on_pool!(store.pool(), pool => sqlx::query(
        "INSERT INTO run_items (run_id, administration_id, item_key, status, message_nl, message_en, detail, at) \
         SELECT id, administration_id, $2, $3, $4, $5, $6, $7 FROM runs WHERE id = $1 \
         ON CONFLICT (run_id, item_key) DO UPDATE SET status = excluded.status, message_nl = excluded.message_nl, \
         message_en = excluded.message_en, detail = excluded.detail, at = excluded.at",
    )
    .bind(run)
    .bind(clip(item.key, 500))
    .bind(item.status.as_str())
    .bind(nl)
    .bind(en)
    .bind(item.detail.map(clip_detail))
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    if inserted == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Cancels a run at a user's request: a queued run at once, a running one by asking its worker to
/// stop (the worker sees the request at its next heartbeat). A finished run cannot be cancelled.
pub async fn cancel(
    store: &Store,
    administration: AdministrationId,
    run: RunId,
    actor: Actor,
) -> Result<CancelOutcome> {
    let mut tx = store.begin().await?;
    let now = tx.now;
    let found: Option<(JobId, String, i64)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT r.job_id, r.kind, a.environment_id FROM runs r JOIN administrations a ON a.id = r.administration_id \
         WHERE r.id = $1 AND r.administration_id = $2",
    )
    .bind(run)
    .bind(administration.0)
    .fetch_optional(conn)
    .await)?;
    let (job, kind, environment) = found.ok_or(StoreError::NotFound)?;
    // The job row decides, under its row lock: a worker may claim the job between our reads.
    let cancelled_queued = on_tx!(tx, conn => sqlx::query(
        "UPDATE jobs SET status = 'cancelled', finished_at = $2, updated_at = $2, cancel_requested = TRUE \
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(job)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    let outcome = if cancelled_queued > 0 {
        let message = RunMessage::cancelled();
        on_tx!(tx, conn => sqlx::query(
            "UPDATE runs SET status = 'cancelled', cancel_requested = TRUE, cancelled_by = $2, message_nl = $3, \
             message_en = $4, finished_at = $5, updated_at = $5 WHERE id = $1",
        )
        .bind(run)
        .bind(actor.0.map(|u| u.0))
        .bind(message.nl)
        .bind(message.en)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        CancelOutcome::Cancelled
    } else {
        let requested = on_tx!(tx, conn => sqlx::query(
            "UPDATE jobs SET cancel_requested = TRUE, updated_at = $2 WHERE id = $1 AND status = 'running'",
        )
        .bind(job)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if requested == 0 {
            return Err(StoreError::conflict("run_finished", "this run has already finished"));
        }
        on_tx!(tx, conn => sqlx::query(
            "UPDATE runs SET cancel_requested = TRUE, cancelled_by = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(run)
        .bind(actor.0.map(|u| u.0))
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        CancelOutcome::Requested
    };
    let detail = format!("{kind} run {run}");
    tx.audit(
        koppel_domain::EnvironmentId(environment),
        Some(administration),
        actor,
        "run.cancel",
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Runs a failed, cancelled or partially succeeded run again as a new run with trigger `retry`,
/// with the same job (kind, payload, priority, unique key). A retry of a job that is queued or
/// running again already joins that one.
pub async fn retry(store: &Store, administration: AdministrationId, run: RunId, actor: Actor) -> Result<Enqueued> {
    let original = self::run(store, administration, run).await?;
    if !matches!(
        original.status,
        RunStatus::Failed | RunStatus::Cancelled | RunStatus::PartiallySucceeded
    ) {
        return Err(StoreError::conflict(
            "run_not_retryable",
            "only a run that failed, was cancelled or partially succeeded can be retried",
        ));
    }
    let job = match crate::storage::jobs::job(store, original.job_id).await {
        Ok(job) => job,
        Err(StoreError::NotFound) => {
            return Err(StoreError::conflict(
                "run_expired",
                "this run is too old to retry; start a new one",
            ));
        }
        Err(other) => return Err(other),
    };
    let environment = store.administration(administration).await?.environment_id;
    let mut new = NewJob::new(job.kind.clone(), job.payload.clone())
        .administration(administration)
        .priority(job.priority)
        .max_attempts(job.max_attempts);
    new.unique_key = job.unique_key.clone();
    new.trigger = Trigger::Retry;
    new.started_by = actor.0;
    new.retry_of = Some(run);
    let mut tx = store.begin().await?;
    let enqueued = enqueue(&mut tx, &new).await?;
    let detail = format!("{} run {run} as run {}", job.kind, enqueued.run());
    tx.audit(environment, Some(administration), actor, "run.retry", &detail)
        .await?;
    tx.commit().await?;
    Ok(enqueued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_messages_are_grouped_per_language() {
        assert_eq!(RunMessage::count(6999), ("6.999".to_string(), "6,999".to_string()));
        assert_eq!(RunMessage::count(999), ("999".to_string(), "999".to_string()));
        assert_eq!(
            RunMessage::count(1_234_567),
            ("1.234.567".to_string(), "1,234,567".to_string())
        );
    }

    #[test]
    fn a_run_none_of_whose_items_succeeded_has_failed() {
        let tally = |succeeded, failed| ItemTally { succeeded, failed };
        assert_eq!(RunStatus::after_success(true, tally(0, 1)), RunStatus::Failed);
        assert_eq!(RunStatus::after_success(false, tally(0, 3)), RunStatus::Failed);
        assert_eq!(
            RunStatus::after_success(true, tally(1, 1)),
            RunStatus::PartiallySucceeded
        );
        assert_eq!(
            RunStatus::after_success(false, tally(2, 1)),
            RunStatus::PartiallySucceeded
        );
        assert_eq!(
            RunStatus::after_success(true, tally(0, 0)),
            RunStatus::PartiallySucceeded
        );
        assert_eq!(RunStatus::after_success(false, tally(0, 0)), RunStatus::Succeeded);
        assert_eq!(RunStatus::after_success(false, tally(5, 0)), RunStatus::Succeeded);
    }
}
