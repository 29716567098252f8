//! Data Sync survives a killed process: a `koppel worker` is SIGKILLed in the middle of a sync
//! (after some reporting tables were written, before the commit). Power BI's snapshot stays the last
//! good one, and the next worker runs the job again and converges to the source exactly.

use koppel_domain::AdministrationId;
use koppel_domain::record::parse_create;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_store::Store;
use koppel_store::queue::NewJob;
use koppel_store::records::ListQuery;
use koppel_store::reporting::{REPORTED, ReportingRead, ReportingSource};
use koppel_store::runs::RunStatus;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Worker {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Worker {
    fn spawn(database_url: &str) -> Worker {
        let mut command: Command = crate::cli::koppel();
        let mut child = command
            .arg("worker")
            .env("KOPPEL_DATABASE_URL", database_url)
            .env("KOPPEL_JOBS_POLL_INTERVAL_MS", "50")
            .env("KOPPEL_JOBS_LEASE_SECONDS", "2")
            .env("KOPPEL_JOBS_HEARTBEAT_SECONDS", "1")
            .env("KOPPEL_JOBS_RETRY_BASE_SECONDS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn koppel worker");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut logs = sink.lock().expect("logs");
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        Worker { child, logs }
    }

    fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    async fn wait_for_log(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.logs().contains(text) {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("koppel exited ({status}) before logging '{text}':\n{}", self.logs());
            }
            assert!(Instant::now() < deadline, "no '{text}' within 60 s:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every id of every entity set at the current sync equals the source table's ids.
async fn assert_converged(store: &Store, administration: AdministrationId) {
    let sync = store.datasync_state(administration).await.unwrap().current_sync;
    for reported in REPORTED {
        let source = store
            .list_records(
                administration,
                reported.spec,
                &ListQuery {
                    limit: 1000,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        let expected: Vec<i64> = source.records.iter().map(|r| r.id.0).collect();
        let read = ReportingRead {
            administration,
            source: ReportingSource::Entity(reported),
            sync,
            columns: &[("id", koppel_domain::record::StorageType::Integer)],
            filter: &[],
            order: &[],
            after_key: None,
            offset: 0,
            limit: 100_000,
        };
        let copied: Vec<i64> = store
            .reporting_rows(&read)
            .await
            .unwrap()
            .iter()
            .map(|row| row[0].as_i64().unwrap())
            .collect();
        assert_eq!(copied, expected, "{} at sync {sync}", reported.entity_set);
    }
}

#[tokio::test]
async fn a_sync_killed_mid_way_leaves_the_last_snapshot_and_the_next_worker_converges() {
    for db in TestDatabase::all().await {
        let store = db.store().clone();
        let fixture = Fixture::create(&store).await;
        let a = fixture.sub1;
        let mut relations = Vec::new();
        for n in 0..20 {
            let values = parse_create(
                &RELATIONS,
                &json!({"code": format!("R{n}"), "name": format!("Relatie {n}"), "kind": "company"}),
            )
            .unwrap();
            relations.push(store.create_record(a, &RELATIONS, values).await.unwrap().id);
        }
        for n in 0..10 {
            let values = parse_create(
                &MATERIALS,
                &json!({"code": format!("M{n}"), "description": "Materiaal", "unit": "stuk",
                        "price": format!("{n}.25"), "vat_rate": "21"}),
            )
            .unwrap();
            store.create_record(a, &MATERIALS, values).await.unwrap();
        }
        // The first attempt writes Customers, Addresses and ContactPersons and then waits to be killed.
        let job = NewJob::new("data_sync", json!({"full": false, "pause_after_tables": 3}))
            .administration(a)
            .unique_key(koppel_datasync::unique_key(a));
        let enqueued = store.enqueue_job(&job).await.unwrap();
        let mut worker = Worker::spawn(db.url());
        worker.wait_for_log("data sync paused for a crash test").await;
        worker.kill();

        let state = store.datasync_state(a).await.unwrap();
        assert_eq!(state.current_sync, 0, "nothing of the killed sync is visible");
        // The source moves on meanwhile.
        store.delete_record(a, &RELATIONS, relations[3]).await.unwrap();

        let mut next = Worker::spawn(db.url());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let run = store.run_by_id(enqueued.run()).await.unwrap();
            if run.status == RunStatus::Succeeded {
                assert!(run.attempts >= 2, "the job ran again after the kill");
                break;
            }
            assert!(
                !run.status.is_finished() && Instant::now() < deadline,
                "the sync did not finish after the kill: {run:?}\n{}",
                next.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        next.kill();
        // The run covered the source as it was when it ran; one more sync takes in the delete.
        store.datasync_run(a, &Default::default()).await.unwrap();
        assert_converged(&store, a).await;
        drop(worker);
        db.cleanup().await;
    }
}
