//! Autosync: the scheduler of automatic syncs for the administrations that switched it on.
//!
//! Switching Autosync on writes a `data_sync` schedule for the administration (and off removes it),
//! in the same transaction as the setting (`Store::datasync_set_autosync`). This loop fires the due
//! ones exactly like the generic scheduler does — compare-and-set on the schedule row, so of several
//! nodes exactly one fires each period — and applies the operator's interval. It exists because the
//! generic scheduler knows only "the system" and "every administration", not "those that opted in".

use crate::job::KIND;
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_jobs::Queue;
use koppel_jobs::scheduler::next_slot;
use koppel_store::StoreError;
use koppel_store::queue::NewJob;
use std::future::Future;
use std::time::Duration;

#[derive(Clone)]
pub struct Autosync {
    queue: Queue,
    interval: Duration,
    tick_interval: Duration,
}

/// The automatic job of one period.
pub fn scheduled_job(administration: AdministrationId) -> NewJob {
    NewJob::new(KIND, serde_json::json!({ "full": false }))
        .administration(administration)
        .unique_key(crate::unique_key(administration))
}

impl Autosync {
    pub fn new(queue: &Queue, interval: Duration, tick_interval: Duration) -> Autosync {
        Autosync {
            queue: queue.clone(),
            interval: interval.max(Duration::from_secs(1)),
            tick_interval,
        }
    }

    /// Applies the interval and fires every due schedule; returns how many fired.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let store = self.queue.store();
        let interval = chrono::Duration::from_std(self.interval).unwrap_or(chrono::Duration::minutes(15));
        store.set_schedule_interval(KIND, interval).await?;
        let mut fired = 0;
        loop {
            let due = store.due_schedules(KIND, 200).await?;
            let fired_before = fired;
            for schedule in &due {
                let Some(administration) = schedule.administration else {
                    continue;
                };
                // While the Power BI licence has lapsed the schedule waits instead of producing a
                // failed run every period; it fires once when the licence is active again.
                let environment = store.administration(administration).await?.environment_id;
                match store.require_licence(environment, PowerUp::PowerBi).await {
                    Ok(()) => {}
                    Err(StoreError::Licence(_)) => continue,
                    Err(other) => return Err(other),
                }
                let next = next_slot(schedule.next_run_at, interval, store.now());
                let mut job = scheduled_job(administration);
                job.max_attempts = self.queue.max_attempts();
                if store.fire_schedule(schedule, next, &job).await?.is_some() {
                    fired += 1;
                }
            }
            // A full page may hold schedules that wait for their licence: those stay due, so stop
            // when nothing of this page fired rather than reading the same page again.
            if due.len() < 200 || fired == fired_before {
                break;
            }
        }
        if fired > 0 {
            self.queue.wake();
        }
        Ok(fired)
    }

    /// Ticks until `shutdown` completes; a failing tick is logged and tried again.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(self.tick_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {
                    if let Err(error) = self.tick().await {
                        tracing::warn!(error = %error, "autosync tick failed; trying again at the next one");
                    }
                }
            }
        }
    }
}
