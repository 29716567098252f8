//! The metrics of background work: queue depth, runs by kind and status, latency and duration.

use crate::{queue, registry, start_time, worker};
use koppel_jobs::scheduler::{Scheduler, SchedulerConfig};
use koppel_jobs::storage::jobs::NewJob;
use koppel_test_support::TestDatabase;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use std::sync::OnceLock;

/// The process-wide recorder of this test binary.
fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).expect("the only recorder of this test binary");
            handle
        })
        .clone()
}

#[tokio::test]
async fn the_worker_and_scheduler_report_depth_outcomes_latency_and_duration() {
    let metrics = recorder();
    let db = TestDatabase::sqlite_at(start_time()).await;
    let store = db.store();
    let queue = queue(store);
    for _ in 0..2 {
        koppel_jobs::enqueue_committed(store, &NewJob::new("metered", json!({})))
            .await
            .unwrap();
    }
    // The scheduler refreshes the queue depth at every tick, with or without periodic work.
    let scheduler = Scheduler::new(&queue, &registry(), Vec::new(), SchedulerConfig::default()).unwrap();
    scheduler.tick().await.unwrap();
    let text = metrics.render();
    assert!(
        text.contains(r#"koppel_jobs{kind="metered",status="queued"}"#),
        "{text}"
    );

    // Five seconds pass between enqueueing and starting: that is the latency.
    db.fixed_clock().advance(chrono::Duration::seconds(5));
    assert_eq!(worker(&queue, "w1").run_until_idle().await.unwrap(), 2);
    let text = metrics.render();
    assert!(
        text.contains(r#"koppel_job_runs_total{kind="metered",status="succeeded"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"koppel_job_attempts_total{kind="metered",ended="succeeded"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"koppel_job_latency_seconds_count{kind="metered"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"koppel_job_latency_seconds_sum{kind="metered"} 10"#),
        "{text}"
    );
    assert!(
        text.contains(r#"koppel_job_duration_seconds_count{kind="metered"} 2"#),
        "{text}"
    );
    db.cleanup().await;
}
