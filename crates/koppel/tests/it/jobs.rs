//! Background work with real processes: `koppel worker` runs jobs without a web server and stops on
//! SIGTERM; `koppel serve --no-worker` runs none. On PostgreSQL two `koppel worker` processes share
//! one queue: 2,000 jobs each run exactly once, and a job whose worker is killed with SIGKILL in the
//! middle completes on the other worker after its lease, without repeating its effect. `koppel
//! worker` serves its own `/metrics` and `/healthz` on a port of its own.

use koppel_jobs::runs::RunStatus;
use koppel_jobs::storage::jobs::JobStatus;
use koppel_jobs::testing::ProbePayload;
use koppel_store::{ConnectOptions, Store, SystemClock};
use koppel_test_support::TestDatabase;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `koppel` process whose log lines are collected as they come.
struct Process {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Process {
    fn spawn(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn koppel");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut logs = sink.lock().expect("log lock");
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        Process { child, logs }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn logs(&self) -> String {
        self.logs.lock().expect("log lock").clone()
    }

    /// Waits, bounded, until the process has logged `text`.
    async fn wait_for_log(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.logs().contains(text) {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("koppel exited ({status}) before logging '{text}':\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "koppel did not log '{text}' within 60 s:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits, bounded, for the process to exit.
    async fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "koppel did not stop after SIGTERM:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no chance to clean up.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failing test must not leave workers behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `koppel worker` on a database, with quick polling and the given extra settings.
fn worker_command(database_url: &str, settings: &[(&str, &str)]) -> Command {
    let mut command = crate::cli::koppel();
    command
        .arg("worker")
        .env("KOPPEL_DATABASE_URL", database_url)
        .env("KOPPEL_JOBS_POLL_INTERVAL_MS", "50")
        .env("KOPPEL_DATABASE_MAX_CONNECTIONS", "12")
        // Any free port for /metrics and /healthz: tests run side by side.
        .env("KOPPEL_JOBS_METRICS_PORT", "0");
    for (name, value) in settings {
        command.env(name, value);
    }
    command
}

/// Polls `check` until it holds, bounded: these tests watch real processes.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pid in a worker id (`host-pid-xxxx`).
fn pid_of(worker: &str) -> u32 {
    let mut parts = worker.rsplitn(3, '-');
    parts.next();
    parts
        .next()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("worker id {worker} has no pid"))
}

/// `koppel migrate` in `directory` (SQLite, the default), and a store on the database it made.
async fn migrated_sqlite(directory: &std::path::Path) -> (String, Store) {
    let output = crate::cli::koppel()
        .arg("migrate")
        .current_dir(directory)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let url = format!("sqlite://{}", directory.join("data/koppel.db").display());
    let store = Store::connect(
        &ConnectOptions {
            url: url.clone(),
            max_connections: 2,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    (url, store)
}

#[tokio::test]
async fn worker_runs_jobs_without_a_web_server_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().unwrap();
    let (url, store) = migrated_sqlite(directory.path()).await;

    let port = crate::cli::free_port();
    let mut command = worker_command(&url, &[("KOPPEL_HTTP_PORT", &port.to_string())]);
    command.current_dir(directory.path());
    let mut worker = Process::spawn(command);
    worker.wait_for_log("job worker started").await;
    // Enqueued by another process (as the web server would), found by the worker's polling.
    let job = koppel_jobs::enqueue_committed(
        &store,
        &ProbePayload {
            items: 2,
            ..ProbePayload::default()
        }
        .job(),
    )
    .await
    .unwrap();
    eventually("the worker runs the job", Duration::from_secs(60), || async {
        koppel_jobs::storage::jobs::job(&store, job.job()).await.unwrap().status == JobStatus::Succeeded
    })
    .await;
    assert_eq!(
        koppel_jobs::runs::any_run(&store, job.run()).await.unwrap().status,
        RunStatus::Succeeded
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "koppel worker must not serve HTTP"
    );

    let status = worker.terminate().await;
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}:\n{}",
        worker.logs()
    );
    let logs = worker.logs();
    assert!(
        logs.contains("job worker stopped") && logs.contains("scheduler stopped"),
        "{logs}"
    );
    store.close().await;
}

#[tokio::test]
async fn serve_with_no_worker_serves_the_web_but_runs_no_jobs() {
    let directory = tempfile::tempdir().unwrap();
    let port = crate::cli::free_port();
    let mut command = crate::cli::koppel();
    command
        .args(["serve", "--no-worker", "--port", &port.to_string()])
        .current_dir(directory.path());
    let mut server = Process::spawn(command);
    server.wait_for_log("listening").await;
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.unwrap();
    assert!(ready.status().is_success());
    let status = server.terminate().await;
    assert!(status.success());
    let logs = server.logs();
    assert!(logs.contains("background jobs are not run by this process"), "{logs}");
    assert!(
        !logs.contains("job worker started") && !logs.contains("scheduler started"),
        "{logs}"
    );
}

#[tokio::test]
async fn two_worker_processes_run_2000_jobs_exactly_once() {
    const JOBS: usize = 2000;
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let settings = [("KOPPEL_JOBS_CONCURRENCY", "8")];
    let mut first = Process::spawn(worker_command(db.url(), &settings));
    let mut second = Process::spawn(worker_command(db.url(), &settings));
    first.wait_for_log("job worker started").await;
    second.wait_for_log("job worker started").await;

    let store = db.store();
    let mut tx = store.begin().await.unwrap();
    for _ in 0..JOBS {
        koppel_jobs::enqueue(&mut tx, &ProbePayload::default().job())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    eventually("2,000 jobs finish", Duration::from_secs(300), || async {
        let counts = koppel_jobs::storage::jobs::job_counts(store).await.unwrap();
        counts
            .get(&("probe".to_string(), JobStatus::Succeeded))
            .copied()
            .unwrap_or(0)
            == JOBS as i64
    })
    .await;

    // Count executions, not just final states: each body ran once, and applied its effect once.
    let executions = koppel_jobs::testing::probe::executions(store).await.unwrap();
    assert_eq!(executions.len(), JOBS);
    for execution in &executions {
        assert_eq!(
            execution.executions, 1,
            "job {} ran {} times",
            execution.job_id, execution.executions
        );
        assert_eq!(
            execution.effect_worker.as_deref(),
            Some(execution.first_worker.as_str())
        );
    }
    let pids: BTreeSet<u32> = executions.iter().map(|e| pid_of(&e.first_worker)).collect();
    assert_eq!(
        pids,
        BTreeSet::from([first.pid(), second.pid()]),
        "both processes took part"
    );
    let counts = koppel_jobs::storage::jobs::job_counts(store).await.unwrap();
    let probes: i64 = counts
        .iter()
        .filter(|((kind, _), _)| kind == "probe")
        .map(|(_, count)| count)
        .sum();
    assert_eq!(
        probes, JOBS as i64,
        "no probe left queued, running or failed: {counts:?}"
    );
    // Both processes run the scheduler; the history prune they schedule fired once, not twice.
    assert_eq!(
        counts.get(&("prune_history".to_string(), JobStatus::Succeeded)),
        Some(&1),
        "{counts:?}"
    );

    for process in [&mut first, &mut second] {
        let status = process.terminate().await;
        assert!(status.success(), "{status:?}:\n{}", process.logs());
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_completes_on_the_other_worker_after_its_lease() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let store = db.store();
    // Short leases, so the takeover comes quickly: renewed every second, expired after two.
    let settings = [
        ("KOPPEL_JOBS_LEASE_SECONDS", "2"),
        ("KOPPEL_JOBS_HEARTBEAT_SECONDS", "1"),
    ];
    let mut doomed = Process::spawn(worker_command(db.url(), &settings));
    doomed.wait_for_log("job worker started").await;
    let enqueued = koppel_jobs::enqueue_committed(
        store,
        &ProbePayload {
            sleep_ms: 4000,
            steps: 8,
            ..ProbePayload::default()
        }
        .job(),
    )
    .await
    .unwrap();
    eventually("the first worker starts the job", Duration::from_secs(60), || async {
        koppel_jobs::testing::probe::executions(store)
            .await
            .unwrap()
            .iter()
            .any(|e| e.job_id == enqueued.job())
    })
    .await;
    let mut survivor = Process::spawn(worker_command(db.url(), &settings));
    survivor.wait_for_log("job worker started").await;

    // Mid-sleep, heartbeating: kill -9.
    assert_eq!(
        koppel_jobs::storage::jobs::job(store, enqueued.job())
            .await
            .unwrap()
            .status,
        JobStatus::Running
    );
    doomed.kill();
    eventually(
        "the job completes on the other worker",
        Duration::from_secs(60),
        || async {
            koppel_jobs::storage::jobs::job(store, enqueued.job())
                .await
                .unwrap()
                .status
                == JobStatus::Succeeded
        },
    )
    .await;

    let job = koppel_jobs::storage::jobs::job(store, enqueued.job()).await.unwrap();
    assert_eq!(job.attempts, 2);
    let run = koppel_jobs::runs::any_run(store, enqueued.run()).await.unwrap();
    assert_eq!((run.status, run.attempts), (RunStatus::Succeeded, 2));
    assert_eq!((run.progress_done, run.progress_total), (8, Some(8)));
    let probe = koppel_jobs::testing::probe::executions(store)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.job_id == enqueued.job())
        .unwrap();
    assert_eq!(probe.executions, 2, "started on both workers");
    assert_eq!(pid_of(&probe.first_worker), doomed.pid());
    let effect_worker = probe.effect_worker.expect("the effect was applied");
    assert_eq!(pid_of(&effect_worker), survivor.pid(), "applied once, by the survivor");

    let status = survivor.terminate().await;
    assert!(status.success(), "{status:?}:\n{}", survivor.logs());
    db.cleanup().await;
}

/// The address a worker logged for its /metrics and /healthz.
fn status_address(logs: &str) -> String {
    let marker = "worker metrics at http://";
    let start = logs
        .find(marker)
        .unwrap_or_else(|| panic!("no metrics address logged:\n{logs}"))
        + marker.len();
    logs[start..].split('/').next().unwrap().to_string()
}

/// Starts `koppel worker` with `--metrics-port`, runs one job through it, and reads both endpoints.
/// Returns the running worker and its status address.
async fn worker_with_status(url: &str, directory: &std::path::Path, store: &Store) -> (Process, String) {
    let port = crate::cli::free_port();
    let mut command = worker_command(url, &[]);
    command
        .args(["--metrics-port", &port.to_string()])
        .current_dir(directory);
    let mut worker = Process::spawn(command);
    worker.wait_for_log("job worker started").await;
    let address = status_address(&worker.logs());
    assert_eq!(address, format!("127.0.0.1:{port}"), "the flag sets the port");

    let health = reqwest::get(format!("http://{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap().trim(), "ok");

    let job = koppel_jobs::enqueue_committed(store, &ProbePayload::default().job())
        .await
        .unwrap();
    eventually("the worker runs the job", Duration::from_secs(60), || async {
        koppel_jobs::storage::jobs::job(store, job.job()).await.unwrap().status == JobStatus::Succeeded
    })
    .await;
    let metrics = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        metrics.headers()
    );
    let text = metrics.text().await.unwrap();
    for expected in [
        r#"koppel_jobs_started_total{kind="probe"} 1"#,
        r#"koppel_job_runs_total{kind="probe",status="succeeded"} 1"#,
        r#"koppel_job_attempts_total{kind="probe",ended="succeeded"} 1"#,
        "koppel_job_claim_seconds_count",
        "koppel_jobs_claimed_total",
    ] {
        assert!(text.contains(expected), "/metrics lacks {expected}:\n{text}");
    }
    let missing = reqwest::get(format!("http://{address}/nothing")).await.unwrap();
    assert_eq!(missing.status(), 404);
    (worker, address)
}

#[tokio::test]
async fn worker_serves_metrics_and_health_on_a_port_of_its_own() {
    // SQLite, in a directory of its own.
    let directory = tempfile::tempdir().unwrap();
    let (url, store) = migrated_sqlite(directory.path()).await;
    let (mut worker, _) = worker_with_status(&url, directory.path(), &store).await;
    let status = worker.terminate().await;
    assert!(status.success(), "{status:?}:\n{}", worker.logs());
    store.close().await;

    // PostgreSQL, where /healthz also shows the database going away.
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (mut worker, address) = worker_with_status(db.url(), directory.path(), db.store()).await;
    db.cleanup().await;
    eventually(
        "/healthz says the database is unavailable",
        Duration::from_secs(30),
        || async {
            let health = reqwest::get(format!("http://{address}/healthz")).await.unwrap();
            health.status() == 503
        },
    )
    .await;
    worker.terminate().await;
}

#[tokio::test]
async fn worker_metrics_can_be_turned_off() {
    let directory = tempfile::tempdir().unwrap();
    let port = crate::cli::free_port();
    let url = format!("sqlite://{}", directory.path().join("koppel.db").display());
    let mut command = worker_command(
        &url,
        &[
            ("KOPPEL_JOBS_METRICS_ENABLED", "false"),
            ("KOPPEL_JOBS_METRICS_PORT", &port.to_string()),
        ],
    );
    command.current_dir(directory.path());
    let mut worker = Process::spawn(command);
    worker.wait_for_log("job worker started").await;
    assert!(
        worker.logs().contains("serves no /metrics and /healthz"),
        "{}",
        worker.logs()
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let status = worker.terminate().await;
    assert!(status.success(), "{status:?}:\n{}", worker.logs());
}
