//! The metrics of background work, recorded wherever a recorder is installed (the web process renders
//! them at `/metrics`):
//!
//! - `koppel_jobs{kind, status}` — queue depth: jobs queued or running now (refreshed by the scheduler);
//! - `koppel_job_runs_total{kind, status}` — runs that ended, by final status;
//! - `koppel_job_latency_seconds{kind}` — from due (enqueued, scheduled or retry time) to start;
//! - `koppel_job_duration_seconds{kind}` — how long an attempt ran;
//! - `koppel_job_attempts_total{kind, ended}` — every attempt, including retries and hand-backs;
//! - `koppel_jobs_started_total{kind}` — attempts started;
//! - `koppel_job_claim_seconds` — how long one claim (a round trip to the database) took;
//! - `koppel_jobs_claimed_total` — jobs taken by claims;
//! - `koppel_job_listener_connected` — 1 while the worker listens for PostgreSQL's notifications of
//!   new jobs, 0 while it only polls (absent on SQLite).

use crate::storage::jobs::{JobCounts, JobStatus};
use crate::worker::Ended;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) fn job_started(kind: &str, latency: Duration) {
    metrics::counter!("koppel_jobs_started_total", "kind" => kind.to_string()).increment(1);
    metrics::histogram!("koppel_job_latency_seconds", "kind" => kind.to_string()).record(latency.as_secs_f64());
}

pub(crate) fn job_ended(kind: &str, duration: Duration, ended: Ended) {
    metrics::histogram!("koppel_job_duration_seconds", "kind" => kind.to_string()).record(duration.as_secs_f64());
    let ended_label = match ended {
        Ended::Succeeded => "succeeded",
        Ended::PartiallySucceeded => "partially_succeeded",
        Ended::Retrying => "retrying",
        Ended::Failed => "failed",
        Ended::Cancelled => "cancelled",
        Ended::HandedBack => "handed_back",
        Ended::LeaseLost => "lease_lost",
        Ended::NotRecorded => "not_recorded",
    };
    metrics::counter!("koppel_job_attempts_total", "kind" => kind.to_string(), "ended" => ended_label).increment(1);
    if matches!(
        ended,
        Ended::Succeeded | Ended::PartiallySucceeded | Ended::Failed | Ended::Cancelled
    ) {
        run_finished(kind, ended_label);
    }
}

pub(crate) fn claimed(took: Duration, jobs: usize) {
    metrics::histogram!("koppel_job_claim_seconds").record(took.as_secs_f64());
    metrics::counter!("koppel_jobs_claimed_total").increment(jobs as u64);
}

pub(crate) fn listening(connected: bool) {
    metrics::gauge!("koppel_job_listener_connected").set(if connected { 1.0 } else { 0.0 });
}

pub(crate) fn run_finished(kind: &str, status: &'static str) {
    metrics::counter!("koppel_job_runs_total", "kind" => kind.to_string(), "status" => status).increment(1);
}

/// Sets the queue-depth gauges; kinds that emptied since the last report go back to zero.
pub(crate) fn queue_depth(counts: &JobCounts) {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().expect("metrics lock");
    seen.extend(counts.keys().map(|(kind, _)| kind.clone()));
    for kind in seen.iter() {
        for status in [JobStatus::Queued, JobStatus::Running] {
            let count = counts.get(&(kind.clone(), status)).copied().unwrap_or(0);
            metrics::gauge!("koppel_jobs", "kind" => kind.clone(), "status" => status.as_str()).set(count as f64);
        }
    }
}
