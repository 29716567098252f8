//! The scheduler: enqueues periodic work when it is due, for the system, for every administration,
//! or for the administrations a feature names (those connected to AccountView, those that switched
//! Autosync on). It is the one mechanism for periodic work; kinds declare their scope in their
//! [`JobType`](crate::JobType) and the binary gives each an interval from the configuration.
//!
//! Each schedule is a row with its next due time. Firing moves that time on and enqueues the job in
//! one transaction, by compare-and-set on the row; when several nodes run schedulers against one
//! PostgreSQL database, exactly one of them fires each period and the others find the row already
//! moved. After downtime a schedule fires once and jumps to its next slot in the future: missed
//! periods are not made up one by one.
//!
//! Intervals come from the operator's configuration. Every administration's schedule keeps to a grid
//! of its own: the interval's multiples shifted by a phase taken from a hash of the administration's
//! id, so a thousand administrations fall due spread evenly over the interval instead of in the same
//! second. New targets get their schedules at the next tick, on their grid's next slot. A feature may
//! write an administration's schedule itself when it opts in
//! ([`crate::storage::schedules::opt_in`]), due at once; after that first run the schedule moves to
//! the administration's grid (its next slot comes within one interval, and joins the first run if
//! that still waits), so a thousand administrations switched on in the same minute do not stay in
//! step.

use crate::job::{JobType, Registry};
use crate::queue::Queue;
use crate::storage::jobs::queue_depth;
use crate::storage::schedules::{self, Schedule, ScheduleScope};
use crate::telemetry;
use crate::worker::chrono_duration;
use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_store::{Store, StoreError};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What an [`Audience`] answers with.
pub type AudienceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The administrations a kind's periodic work runs for, when that is neither the system nor every
/// administration. The feature that owns the kind answers; the scheduler asks at every tick and
/// keeps one schedule per named administration.
pub trait Audience: Send + Sync {
    /// Who it is, for logs.
    fn name(&self) -> &'static str;

    /// The administrations that should have a schedule now. Schedules of others are removed.
    fn administrations<'a>(&'a self, store: &'a Store) -> AudienceFuture<'a, Vec<AdministrationId>>;

    /// Whether an administration's due period may fire now. A period that may not stays due and
    /// fires once it may (a lapsed licence, say), rather than producing a failed run every period.
    fn may_fire<'a>(&'a self, _store: &'a Store, _administration: AdministrationId) -> AudienceFuture<'a, bool> {
        Box::pin(async { Ok(true) })
    }
}

/// Which targets a periodic kind runs for.
#[derive(Clone, Copy)]
pub enum Scope {
    /// One schedule for the whole installation (housekeeping).
    System,
    /// One schedule per administration.
    EveryAdministration,
    /// One schedule per administration the feature names.
    Among(&'static dyn Audience),
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::System => f.write_str("System"),
            Scope::EveryAdministration => f.write_str("EveryAdministration"),
            Scope::Among(audience) => write!(f, "Among({})", audience.name()),
        }
    }
}

/// One kind of periodic work and how often it runs.
#[derive(Debug, Clone)]
pub struct Periodic {
    pub kind: &'static str,
    pub scope: Scope,
    pub interval: Duration,
}

impl Periodic {
    /// The periodic work of a kind that declares its scope, every `interval` (from the operator's
    /// configuration).
    pub fn of<J: JobType>(interval: Duration) -> Result<Periodic, ScheduleError> {
        let scope = J::SCHEDULE.ok_or(ScheduleError::NotPeriodic(J::KIND))?;
        Ok(Periodic {
            kind: J::KIND,
            scope,
            interval,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often the scheduler looks for due schedules.
    pub tick_interval: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tick_interval: Duration::from_secs(10),
        }
    }
}

/// A scheduler's configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("periodic kind {0} has no registered job")]
    UnknownKind(&'static str),
    #[error("the interval of periodic kind {0} must be at least one second")]
    IntervalTooShort(&'static str),
    #[error("periodic kind {0} is configured twice")]
    Duplicate(&'static str),
    #[error("kind {0} declares no schedule")]
    NotPeriodic(&'static str),
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Periods this scheduler fired.
    pub fired: usize,
    /// Of those, how many joined a run of the same schedule that was still queued or running.
    pub joined: usize,
}

#[derive(Clone)]
pub struct Scheduler {
    queue: Queue,
    registry: Registry,
    periodic: Vec<Periodic>,
    config: SchedulerConfig,
}

impl Scheduler {
    pub fn new(
        queue: &Queue,
        registry: &Registry,
        periodic: Vec<Periodic>,
        config: SchedulerConfig,
    ) -> Result<Scheduler, ScheduleError> {
        for (index, entry) in periodic.iter().enumerate() {
            if registry.get(entry.kind).is_none() {
                return Err(ScheduleError::UnknownKind(entry.kind));
            }
            if entry.interval < Duration::from_secs(1) {
                return Err(ScheduleError::IntervalTooShort(entry.kind));
            }
            if periodic[..index].iter().any(|earlier| earlier.kind == entry.kind) {
                return Err(ScheduleError::Duplicate(entry.kind));
            }
        }
        Ok(Scheduler {
            queue: queue.clone(),
            registry: registry.clone(),
            periodic,
            config,
        })
    }

    /// Ticks until `shutdown` completes. A failing tick is logged and tried again at the next one.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let kinds: Vec<&str> = self.periodic.iter().map(|p| p.kind).collect();
        tracing::info!(scheduler.kinds = ?kinds, "scheduler started");
        let mut ticks = tokio::time::interval(self.config.tick_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {
                    if let Err(error) = self.tick().await {
                        tracing::warn!(error = %error, "scheduler tick failed; trying again at the next one");
                    }
                }
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Brings schedules in line with the configuration and fires every due one.
    pub async fn tick(&self) -> Result<Tick, StoreError> {
        let store = self.queue.store();
        let mut tick = Tick::default();
        for periodic in &self.periodic {
            let interval = chrono_duration(periodic.interval);
            schedules::set_schedule_interval(store, periodic.kind, interval).await?;
            self.plan(store, periodic, interval).await?;
            let registered = self
                .registry
                .registered(periodic.kind)
                .ok_or_else(|| StoreError::Internal(format!("periodic kind {} is not registered", periodic.kind)))?;
            loop {
                let due = schedules::due_schedules(store, periodic.kind, DUE_PAGE).await?;
                let fired_before = tick.fired;
                for schedule in &due {
                    if !may_fire(store, periodic.scope, schedule).await? {
                        continue;
                    }
                    let next = following_slot(schedule, interval, store.now());
                    let mut job = (registered.scheduled)(schedule.administration);
                    job.max_attempts = self.queue.max_attempts();
                    if let Some(enqueued) = schedules::fire_schedule(store, schedule, next, &job).await? {
                        tick.fired += 1;
                        if !enqueued.is_new() {
                            tick.joined += 1;
                        }
                        tracing::debug!(
                            schedule.id = schedule.id,
                            job.kind = periodic.kind,
                            run.id = enqueued.run().0,
                            next_run_at = %next,
                            "schedule fired"
                        );
                    }
                }
                // A full page may hold schedules that wait (their audience said not yet): those stay
                // due, so stop when nothing of this page fired rather than reading it again.
                if due.len() < DUE_PAGE as usize || tick.fired == fired_before {
                    break;
                }
            }
        }
        if tick.fired > tick.joined {
            self.queue.wake();
        }
        telemetry::queue_depth(&queue_depth(store).await?);
        Ok(tick)
    }

    /// Gives every target of a periodic kind its schedule, and takes it away from administrations
    /// its audience no longer names.
    async fn plan(&self, store: &Store, periodic: &Periodic, interval: chrono::Duration) -> Result<(), StoreError> {
        let targets = match periodic.scope {
            Scope::System => schedules::unscheduled_targets(store, periodic.kind, ScheduleScope::System).await?,
            Scope::EveryAdministration => {
                schedules::unscheduled_targets(store, periodic.kind, ScheduleScope::EveryAdministration).await?
            }
            Scope::Among(audience) => {
                let wanted: BTreeSet<AdministrationId> = audience.administrations(store).await?.into_iter().collect();
                let mut scheduled = BTreeSet::new();
                for schedule in schedules::schedules(store, periodic.kind).await? {
                    match schedule.administration {
                        Some(administration) if wanted.contains(&administration) => {
                            scheduled.insert(administration);
                        }
                        _ => schedules::delete_schedule(store, &schedule).await?,
                    }
                }
                wanted
                    .difference(&scheduled)
                    .map(|administration| Some(*administration))
                    .collect()
            }
        };
        for target in targets {
            let first_run_at = match target {
                None => store.now(),
                Some(administration) => grid_slot_at_or_after(administration, interval, store.now()),
            };
            schedules::create_schedule(store, periodic.kind, target, interval, first_run_at).await?;
        }
        Ok(())
    }
}

/// Due schedules read at a time.
const DUE_PAGE: u32 = 200;

/// Whether a due schedule may fire now: always, unless its kind's audience says to wait.
async fn may_fire(store: &Store, scope: Scope, schedule: &Schedule) -> Result<bool, StoreError> {
    match (scope, schedule.administration) {
        (Scope::Among(audience), Some(administration)) => audience.may_fire(store, administration).await,
        _ => Ok(true),
    }
}

/// The first slot after `now` on the grid `next_run_at + k × interval`: one firing makes up for any
/// number of missed periods.
pub fn next_slot(next_run_at: DateTime<Utc>, interval: chrono::Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval_us = interval.num_microseconds().unwrap_or(i64::MAX).max(1);
    let behind_us = (now - next_run_at).num_microseconds().unwrap_or(i64::MAX).max(0);
    let periods = behind_us / interval_us + 1;
    next_run_at + chrono::Duration::microseconds(interval_us.saturating_mul(periods))
}

/// The slot after the one a schedule fires now: the system's schedules stay on the grid their first
/// run set ([`next_slot`]); an administration's go to its own grid ([`grid_slot_at_or_after`]).
fn following_slot(schedule: &Schedule, interval: chrono::Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    match schedule.administration {
        None => next_slot(schedule.next_run_at, interval, now),
        Some(administration) => {
            grid_slot_at_or_after(administration, interval, now + chrono::Duration::microseconds(1))
        }
    }
}

/// The first slot at or after `at` on an administration's own grid: the Unix epoch, plus a phase
/// spread evenly over the interval by a hash of the id, plus whole intervals.
pub fn grid_slot_at_or_after(
    administration: AdministrationId,
    interval: chrono::Duration,
    at: DateTime<Utc>,
) -> DateTime<Utc> {
    let interval_us = interval.num_microseconds().unwrap_or(i64::MAX).max(1);
    let origin = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::microseconds(phase_us(administration, interval_us));
    let since_us = (at - origin).num_microseconds().unwrap_or(i64::MAX);
    let periods = since_us.div_euclid(interval_us) + i64::from(since_us.rem_euclid(interval_us) != 0);
    origin + chrono::Duration::microseconds(interval_us.saturating_mul(periods))
}

/// An administration's phase within an interval, in microseconds: `[0, interval_us)`.
fn phase_us(administration: AdministrationId, interval_us: i64) -> i64 {
    // Fibonacci hashing: consecutive ids land far apart, and the high bits scale evenly onto the
    // interval.
    let hash = (administration.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let scaled = (u128::from(hash) * u128::from(interval_us.unsigned_abs())) >> 64;
    i64::try_from(scaled).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_next_slot_stays_on_the_grid_and_skips_missed_periods() {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let fifteen = chrono::Duration::minutes(15);
        // On time: the next slot.
        assert_eq!(next_slot(start, fifteen, start), start + fifteen);
        // A little late: still the next slot.
        assert_eq!(
            next_slot(start, fifteen, start + chrono::Duration::minutes(3)),
            start + fifteen
        );
        // Ten hours of downtime: one firing, then the first slot after now.
        let later = start + chrono::Duration::hours(10) + chrono::Duration::minutes(7);
        assert_eq!(
            next_slot(start, fifteen, later),
            start + chrono::Duration::hours(10) + fifteen
        );
    }

    #[test]
    fn administrations_keep_to_grids_spread_over_the_interval() {
        let interval = chrono::Duration::minutes(15);
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 7).unwrap();
        let slots: Vec<DateTime<Utc>> = (1..=50)
            .map(|id| grid_slot_at_or_after(AdministrationId(id), interval, now))
            .collect();
        assert!(
            slots.iter().all(|slot| *slot >= now && *slot < now + interval),
            "{slots:?}"
        );
        let seconds: std::collections::BTreeSet<i64> = slots.iter().map(|slot| (*slot - now).num_seconds()).collect();
        assert!(
            seconds.len() > 40,
            "50 administrations spread over the interval: {seconds:?}"
        );

        // Each keeps its own phase: one interval on is the next slot, and a slot is its own first.
        let one = AdministrationId(7);
        let slot = grid_slot_at_or_after(one, interval, now);
        assert_eq!(grid_slot_at_or_after(one, interval, slot), slot);
        let step = chrono::Duration::microseconds(1);
        assert_eq!(grid_slot_at_or_after(one, interval, slot + step), slot + interval);
        assert_eq!(grid_slot_at_or_after(one, interval, slot - interval + step), slot);
    }

    #[test]
    fn after_any_firing_an_administration_is_back_on_its_grid_within_one_interval() {
        let interval = chrono::Duration::seconds(60);
        let administration = AdministrationId(42);
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        // Opted in at any moment, fired at once: the next slot is on the grid, within one interval.
        for second in 0..120 {
            let fired_at = start + chrono::Duration::milliseconds(second * 500);
            let schedule = Schedule {
                id: 1,
                kind: "probe".to_string(),
                administration: Some(administration),
                interval_seconds: 60,
                next_run_at: fired_at,
                last_fired_at: None,
                last_run_id: None,
                revision: 1,
            };
            let next = following_slot(&schedule, interval, fired_at);
            assert!(next > fired_at && next <= fired_at + interval, "{fired_at} → {next}");
            assert_eq!(next, grid_slot_at_or_after(administration, interval, next));
        }
    }
}
