//! Throughput of the sandbox on one core: a 100-row page of debtors (AR1) with a valid token, fetched by 16
//! concurrent connections for a fixed time. Prints requests per second and latency percentiles; asserts
//! nothing (figures are read, not judged, by a benchmark).
//!
//! The sandbox runs on a single-threaded tokio runtime in its own OS thread; the load comes from another
//! thread with its own single-threaded runtime, so on a two-core machine each side has one core.
//!
//! Run: `cargo bench -p accountview-sandbox --bench throughput` (environment: `BENCH_SECONDS`,
//! `BENCH_CONNECTIONS`, `BENCH_DEBTORS`).

#![allow(clippy::unwrap_used)] // a benchmark stops at the first thing it cannot set up

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use accountview_sandbox::{ClientConfig, Sandbox, SandboxConfig, VDB_2026_ID};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "bench";
const CLIENT_SECRET: &str = "bench-secret";
const REDIRECT_URI: &str = "http://127.0.0.1:9/bench/callback";
const PAGE_SIZE: usize = 100;

fn environment_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; other harness flags (a filter, `--list`) mean "not this one".
    if std::env::args().skip(1).any(|argument| argument == "--list") {
        println!("throughput: benchmark");
        return;
    }
    let seconds = environment_number("BENCH_SECONDS", 8);
    let connections = environment_number("BENCH_CONNECTIONS", 16) as usize;
    let debtors = environment_number("BENCH_DEBTORS", 100_000) as usize;

    let config = SandboxConfig {
        clients: vec![ClientConfig {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            name: "Benchmark".to_owned(),
            redirect_uris: vec![REDIRECT_URI.to_owned()],
        }],
        debtors,
        // The documented 600 requests/min would cap the benchmark at 10 req/s.
        rate_limit_per_minute: 0,
        ..SandboxConfig::default()
    };
    let seeding = Instant::now();
    let sandbox = Sandbox::new(config).expect("sandbox starts");
    let seeded_in = seeding.elapsed();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking listener");
    let address = listener.local_addr().expect("address");
    let (stat_sender, stat_receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sandbox".to_owned())
        .spawn(move || {
            // Where this thread's CPU time can be read (the link is relative to /proc), so the figures can be
            // judged on a busy machine too.
            let stat = std::fs::read_link("/proc/thread-self")
                .ok()
                .map(|task| std::path::Path::new("/proc").join(task).join("stat"));
            let _ = stat_sender.send(stat);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                sandbox.serve(listener).await.expect("serving");
            });
        })
        .expect("server thread");

    let server_stat = stat_receiver.recv().ok().flatten();
    let loader = std::thread::Builder::new()
        .name("loader".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(load(address, connections, Duration::from_secs(seconds), server_stat))
        })
        .expect("loader thread");
    let report = loader.join().expect("loader finished");

    println!("accountview-sandbox throughput: GET AccountViewData AR1, PageSize={PAGE_SIZE}");
    println!("  debtors seeded:   {debtors} (in {} ms)", seeded_in.as_millis());
    println!("  connections:      {connections}, measured for {seconds} s after a 1 s warm-up");
    println!(
        "  requests:         {} ok, {} failed",
        report.latencies.len(),
        report.failures
    );
    println!(
        "  throughput:       {:.0} requests/s",
        report.latencies.len() as f64 / report.measured.as_secs_f64()
    );
    println!("  body size:        {} bytes per page", report.body_bytes);
    let mut latencies = report.latencies;
    latencies.sort_unstable();
    for (label, quantile) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99)] {
        println!(
            "  latency {label}:      {:.2} ms",
            percentile(&latencies, quantile).as_secs_f64() * 1000.0
        );
    }
    println!(
        "  latency max:      {:.2} ms",
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    if let Some(cpu) = report.server_cpu.filter(|cpu| !cpu.is_zero()) {
        let share = cpu.as_secs_f64() / report.measured.as_secs_f64();
        println!(
            "  server CPU:       {:.2} s in {seconds} s ({:.0}% of one core)",
            cpu.as_secs_f64(),
            share * 100.0
        );
        println!(
            "  per server core:  {:.0} requests per CPU-second ({:.0} µs of server CPU per request)",
            latencies.len() as f64 / cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / latencies.len().max(1) as f64
        );
    }
}

/// User plus system CPU time of a thread from `/proc/<pid>/task/<tid>/stat` (Linux only).
fn thread_cpu_time(stat: &std::path::Path) -> Option<Duration> {
    let text = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3; utime and stime are 14 and 15.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc reports in USER_HZ, which Linux fixes at 100 per second for user space.
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[index]
}

struct Report {
    latencies: Vec<Duration>,
    failures: usize,
    measured: Duration,
    body_bytes: usize,
    /// CPU time the server thread used during the measured window.
    server_cpu: Option<Duration>,
}

async fn load(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    server_stat: Option<std::path::PathBuf>,
) -> Report {
    let base = format!("http://{address}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let token = obtain_token(&http, &base).await;

    // Page starts spread over the whole table, so every request is a real range scan, not one hot page.
    let first_page: serde_json::Value = http
        .get(format!("{base}/api/v3/AccountViewData"))
        .bearer_auth(&token)
        .header("x-company", VDB_2026_ID)
        .query(&[("BusinessObject", "AR1"), ("PageSize", "1")])
        .send()
        .await
        .expect("first read")
        .json()
        .await
        .expect("json");
    let first_key: u64 = first_page["CONTACT"][0]["SUB_NR"]
        .as_str()
        .expect("key")
        .parse()
        .expect("numeric key");

    let warm_up_until = Instant::now() + Duration::from_secs(1);
    let until = warm_up_until + duration;
    let cpu_meter = tokio::spawn(async move {
        let stat = server_stat?;
        tokio::time::sleep_until(warm_up_until.into()).await;
        let before = thread_cpu_time(&stat)?;
        tokio::time::sleep_until(until.into()).await;
        Some(thread_cpu_time(&stat)?.saturating_sub(before))
    });
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections {
        let http = http.clone();
        let base = base.clone();
        let token = token.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut failures = 0;
            let mut body_bytes = 0;
            let mut offset = worker as u64 * 7919;
            loop {
                let started = Instant::now();
                if started >= until {
                    break;
                }
                offset = (offset + 104_729) % 90_000;
                let last_key = (first_key + offset).to_string();
                let response = http
                    .get(format!("{base}/api/v3/AccountViewData"))
                    .bearer_auth(&token)
                    .header("x-company", VDB_2026_ID)
                    .query(&[
                        ("BusinessObject", "AR1"),
                        ("PageSize", "100"),
                        ("lastKey", last_key.as_str()),
                    ])
                    .send()
                    .await;
                let ok = match response {
                    Ok(response) if response.status().is_success() => match response.bytes().await {
                        Ok(body) => {
                            body_bytes = body.len();
                            true
                        }
                        Err(_) => false,
                    },
                    _ => false,
                };
                if started < warm_up_until {
                    continue;
                }
                if ok {
                    latencies.push(started.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures, body_bytes)
        }));
    }
    let mut report = Report {
        latencies: Vec::new(),
        failures: 0,
        measured: duration,
        body_bytes: 0,
        server_cpu: None,
    };
    for worker in workers {
        let (latencies, failures, body_bytes) = worker.await.expect("worker");
        report.latencies.extend(latencies);
        report.failures += failures;
        report.body_bytes = report.body_bytes.max(body_bytes);
    }
    report.server_cpu = cpu_meter.await.ok().flatten();
    report
}

/// The OAuth dance as a client does it: authorize, log in, approve, redeem with PKCE.
async fn obtain_token(http: &reqwest::Client, base: &str) -> String {
    let verifier = "benchmark-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let page = http
        .get(format!("{base}/ams/authorize.aspx"))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "readaccountviewdata"),
            ("state", "bench"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("page");
    let marker = r#"name="request_id" value=""#;
    let start = page.find(marker).expect("request id") + marker.len();
    let request_id = &page[start..start + page[start..].find('"').expect("quote")];
    http.post(format!("{base}/ams/login.aspx"))
        .form(&[
            ("request_id", request_id),
            ("username", "demo@vandenberg-installatie.nl"),
            ("password", "sandbox"),
        ])
        .send()
        .await
        .expect("login");
    let redirect = http
        .post(format!("{base}/ams/consent.aspx"))
        .form(&[("request_id", request_id), ("decision", "approve")])
        .send()
        .await
        .expect("consent");
    let location = redirect.headers()["location"].to_str().expect("location").to_owned();
    let code = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .expect("code");
    let answer: serde_json::Value = http
        .post(format!("{base}/api/v3/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    answer["access_token"].as_str().expect("access token").to_owned()
}
