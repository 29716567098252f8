//! The schedules of periodic work: one row per kind and target (the system, or one administration),
//! with its next due time. The scheduler fires a due row by compare-and-set on its revision, so of
//! several schedulers exactly one fires each period. Only the scheduler changes schedules; feature
//! crates that let administrations opt in write their rows with [`opt_in`] and [`opt_out`].

use crate::ids::RunId;
use crate::storage::jobs::{Enqueued, NewJob, enqueue};
use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_store::sql::{on_pool, on_tx};
use koppel_store::{Result, Store, Tx};

/// Periodic work of one kind, for the system or for one administration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: i64,
    pub kind: String,
    pub administration: Option<AdministrationId>,
    pub interval_seconds: i64,
    pub next_run_at: DateTime<Utc>,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub last_run_id: Option<RunId>,
    /// Bumped by every change; the compare-and-set token of firing.
    pub revision: i64,
}

/// Which schedules a periodic kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScheduleScope {
    /// One schedule for the whole installation (housekeeping).
    System,
    /// One schedule per administration.
    EveryAdministration,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: i64,
    kind: String,
    administration_id: Option<i64>,
    interval_seconds: i64,
    next_run_at: DateTime<Utc>,
    last_fired_at: Option<DateTime<Utc>>,
    last_run_id: Option<RunId>,
    revision: i64,
}

impl From<ScheduleRow> for Schedule {
    fn from(row: ScheduleRow) -> Schedule {
        Schedule {
            id: row.id,
            kind: row.kind,
            administration: row.administration_id.map(AdministrationId),
            interval_seconds: row.interval_seconds,
            next_run_at: row.next_run_at,
            last_fired_at: row.last_fired_at,
            last_run_id: row.last_run_id,
            revision: row.revision,
        }
    }
}

macro_rules! select_schedules {
    () => {
        "SELECT id, kind, administration_id, interval_seconds, next_run_at, last_fired_at, last_run_id, revision \
         FROM schedules"
    };
}

fn scope_key(administration: Option<AdministrationId>) -> String {
    administration.map_or_else(|| "system".to_string(), |a| format!("administration:{a}"))
}
/// The targets of a periodic kind that have no schedule yet: `None` is the system.
pub(crate) async fn unscheduled_targets(
    store: &Store,
    kind: &str,
    scope: ScheduleScope,
) -> Result<Vec<Option<AdministrationId>>> {
    Ok(match scope {
        ScheduleScope::System => {
            let exists: Option<i64> = on_pool!(store.pool(), pool => sqlx::query_scalar(
                "SELECT id FROM schedules WHERE kind = $1 AND scope_key = 'system'",
            )
            .bind(kind)
            .fetch_optional(pool)
            .await)?;
            if exists.is_some() { Vec::new() } else { vec![None] }
        }
        ScheduleScope::EveryAdministration => {
            let ids: Vec<i64> = on_pool!(store.pool(), pool => sqlx::query_scalar(
                "SELECT a.id FROM administrations a WHERE NOT EXISTS \
                 (SELECT 1 FROM schedules s WHERE s.kind = $1 AND s.administration_id = a.id) ORDER BY a.id",
            )
            .bind(kind)
            .fetch_all(pool)
            .await)?;
            ids.into_iter().map(|id| Some(AdministrationId(id))).collect()
        }
    })
}

/// Creates a schedule unless one exists (another scheduler may have been first).
pub(crate) async fn create_schedule(
    store: &Store,
    kind: &str,
    administration: Option<AdministrationId>,
    interval: chrono::Duration,
    first_run_at: DateTime<Utc>,
) -> Result<()> {
    let now = store.now();
    on_pool!(store.pool(), pool => sqlx::query(
        "INSERT INTO schedules (kind, administration_id, scope_key, interval_seconds, next_run_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, scope_key) DO NOTHING",
    )
    .bind(kind)
    .bind(administration.map(|a| a.0))
    .bind(scope_key(administration))
    .bind(interval.num_seconds())
    .bind(first_run_at)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| koppel_store::map_unique(e, || "the schedule exists already".into()))?;
    Ok(())
}

/// Applies an operator's new interval to a kind's schedules. A schedule due later than one new
/// interval from now is brought forward, so shortening an interval takes effect at once.
pub(crate) async fn set_schedule_interval(store: &Store, kind: &str, interval: chrono::Duration) -> Result<u64> {
    let now = store.now();
    let changed = on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE schedules SET interval_seconds = $2, revision = revision + 1, \
         next_run_at = CASE WHEN next_run_at > $3 THEN $3 ELSE next_run_at END \
         WHERE kind = $1 AND interval_seconds <> $2",
    )
    .bind(kind)
    .bind(interval.num_seconds())
    .bind(now + interval)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(changed)
}

/// The schedules of a kind, due ones first.
pub async fn schedules(store: &Store, kind: &str) -> Result<Vec<Schedule>> {
    let rows: Vec<ScheduleRow> = on_pool!(store.pool(), pool => sqlx::query_as(concat!(
        select_schedules!(),
        " WHERE kind = $1 ORDER BY next_run_at, id"
    ))
    .bind(kind)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(Schedule::from).collect())
}

/// The schedules of a kind that are due now.
pub(crate) async fn due_schedules(store: &Store, kind: &str, limit: u32) -> Result<Vec<Schedule>> {
    let now = store.now();
    let rows: Vec<ScheduleRow> = on_pool!(store.pool(), pool => sqlx::query_as(concat!(
        select_schedules!(),
        " WHERE kind = $1 AND next_run_at <= $2 ORDER BY next_run_at, id LIMIT $3"
    ))
    .bind(kind)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(Schedule::from).collect())
}

/// Fires a due schedule: moves it to `next_run_at` and enqueues its job, in one transaction, but
/// only if nobody changed the schedule since it was read (compare-and-set on its revision). Of
/// several schedulers that read the same due schedule, exactly one gets `Some`.
pub(crate) async fn fire_schedule(
    store: &Store,
    schedule: &Schedule,
    next_run_at: DateTime<Utc>,
    job: &NewJob,
) -> Result<Option<Enqueued>> {
    let mut tx = store.begin().await?;
    let now = tx.now;
    let moved = on_tx!(tx, conn => sqlx::query(
        "UPDATE schedules SET next_run_at = $3, last_fired_at = $4, revision = revision + 1 \
         WHERE id = $1 AND revision = $2",
    )
    .bind(schedule.id)
    .bind(schedule.revision)
    .bind(next_run_at)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if moved == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut job = job.clone();
    job.scheduled_for = Some(schedule.next_run_at);
    let enqueued = enqueue(&mut tx, &job).await?;
    on_tx!(tx, conn => sqlx::query("UPDATE schedules SET last_run_id = $2 WHERE id = $1")
        .bind(schedule.id)
        .bind(enqueued.run())
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(Some(enqueued))
}
/// Gives an administration a schedule of `kind` that is due at once, in the transaction of the
/// change that opts it in (Autosync switched on, say); the scheduler applies the operator's interval
/// at its next tick. Nothing happens when the schedule exists already.
pub async fn opt_in(tx: &mut Tx, kind: &str, administration: AdministrationId) -> Result<()> {
    let now = tx.now;
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO schedules (kind, administration_id, scope_key, interval_seconds, next_run_at, created_at) \
         VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (kind, scope_key) DO NOTHING",
    )
    .bind(kind)
    .bind(administration.0)
    .bind(scope_key(Some(administration)))
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes an administration's schedule of `kind`, in the transaction of the change that opts it
/// out. Its runs stay in the history.
pub async fn opt_out(tx: &mut Tx, kind: &str, administration: AdministrationId) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM schedules WHERE kind = $1 AND scope_key = $2")
        .bind(kind)
        .bind(scope_key(Some(administration)))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a schedule whose target no longer wants the work (an administration that disconnected).
pub(crate) async fn delete_schedule(store: &Store, schedule: &Schedule) -> Result<()> {
    on_pool!(store.pool(), pool => sqlx::query("DELETE FROM schedules WHERE id = $1")
        .bind(schedule.id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
