//! Data Sync survives a killed process: a worker process is SIGKILLed in the middle of a sync
//! (after some reporting tables were written, before the commit). Power BI's snapshot stays the last
//! good one, and the next worker (`koppel worker`) runs the job again and converges to the source
//! exactly.
//!
//! The killed worker is this test binary started again as its own process ([`crash_test_worker`]):
//! it runs the `data_sync` job kind with a fault hook that stops the sync mid-way until the process
//! dies. The `koppel` binary itself has no such hook.

use koppel_datasync::dataset::REPORTED;
use koppel_datasync::rows::ReportingRead;
use koppel_datasync::rows::ReportingSource;
use koppel_domain::AdministrationId;
use koppel_domain::record::parse_create;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_jobs::runs::RunStatus;
use koppel_store::Store;
use koppel_store::records::ListQuery;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set, to the database URL, when this test binary runs as the crash test's first worker.
const CRASH_WORKER_DATABASE_URL: &str = "KOPPEL_TEST_CRASH_WORKER_DATABASE_URL";

/// What the crash test's first worker logs when its sync has stopped to be killed.
const PAUSED: &str = "data sync paused for a crash test";

/// Holds a sync before it writes the entity set with this index until the process is killed.
struct PauseBefore(usize);

impl koppel_datasync::faults::Faults for PauseBefore {
    fn before_set(&self, administration: AdministrationId, index: usize) -> koppel_datasync::faults::FaultFuture<'_> {
        let pause = index == self.0;
        Box::pin(async move {
            if pause {
                eprintln!("{PAUSED} (administration {administration})");
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

/// The crash test's first worker, in a process of its own: a job worker as `koppel worker` runs it
/// (with the test's short lease), whose `data_sync` stops before the fourth entity set. Does nothing
/// unless [`a_sync_killed_mid_way_leaves_the_last_snapshot_and_the_next_worker_converges`] started it.
#[tokio::test(flavor = "multi_thread")]
async fn crash_test_worker() {
    let Ok(url) = std::env::var(CRASH_WORKER_DATABASE_URL) else {
        return;
    };
    let options = koppel_store::ConnectOptions {
        url,
        max_connections: 4,
    };
    let store = Store::connect(&options, Arc::new(koppel_store::SystemClock))
        .await
        .unwrap();
    let mut registry = koppel_jobs::Registry::new();
    registry.register(koppel_datasync::DataSync {
        retention: chrono::Duration::hours(6),
        faults: Arc::new(PauseBefore(3)),
    });
    let queue = koppel_jobs::Queue::new(store.clone(), 5);
    let worker = koppel_jobs::testing::worker(&queue, registry)
        .config(koppel_jobs::WorkerConfig {
            poll_interval: Duration::from_millis(50),
            lease: Duration::from_secs(2),
            heartbeat_interval: Duration::from_secs(1),
            ..koppel_jobs::WorkerConfig::default()
        })
        .build();
    worker.run(std::future::pending()).await;
}

struct Worker {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Worker {
    /// `koppel worker`, with a short lease so a dead worker's job is taken over quickly.
    fn spawn(database_url: &str) -> Worker {
        let mut command: Command = crate::cli::koppel();
        command
            .arg("worker")
            .env("KOPPEL_DATABASE_URL", database_url)
            // Tests run side by side: each worker serves /metrics on a free port, not the default.
            .env("KOPPEL_JOBS_METRICS_PORT", "0")
            .env("KOPPEL_JOBS_POLL_INTERVAL_MS", "50")
            .env("KOPPEL_JOBS_LEASE_SECONDS", "2")
            .env("KOPPEL_JOBS_HEARTBEAT_SECONDS", "1")
            .env("KOPPEL_JOBS_RETRY_BASE_SECONDS", "1");
        Worker::start(command)
    }

    /// This test binary as the crash test's first worker ([`crash_test_worker`]).
    fn spawn_crashing(database_url: &str) -> Worker {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args(["datasync::crash_test_worker", "--exact", "--nocapture"])
            .env(CRASH_WORKER_DATABASE_URL, database_url);
        Worker::start(command)
    }

    fn start(mut command: Command) -> Worker {
        let mut child = command
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
    let sync = koppel_datasync::state::read(store, administration)
        .await
        .unwrap()
        .current_sync;
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
        let copied: Vec<i64> = koppel_datasync::rows::fetch(store, &read)
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
        let job = <koppel_datasync::DataSync as koppel_jobs::JobType>::job(Some(a), json!({"full": false}));
        let enqueued = koppel_jobs::enqueue_committed(&store, &job).await.unwrap();
        let mut worker = Worker::spawn_crashing(db.url());
        worker.wait_for_log(PAUSED).await;
        worker.kill();

        let state = koppel_datasync::state::read(&store, a).await.unwrap();
        assert_eq!(state.current_sync, 0, "nothing of the killed sync is visible");
        // The source moves on meanwhile.
        store.delete_record(a, &RELATIONS, relations[3]).await.unwrap();

        let mut next = Worker::spawn(db.url());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let run = koppel_jobs::runs::any_run(&store, enqueued.run()).await.unwrap();
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
        koppel_datasync::engine::run(&store, a, &Default::default())
            .await
            .unwrap();
        assert_converged(&store, a).await;
        drop(worker);
        db.cleanup().await;
    }
}
