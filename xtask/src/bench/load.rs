//! A small closed-loop HTTP load generator: N clients, each on its own keep-alive HTTP/1 connection,
//! send one GET after another for a fixed time (after a warm-up that is not measured), check every
//! answer (status 200 and the expected number of items; a body identical to one already checked
//! passes without parsing it again), and record the latency of each. Loopback addresses only.

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, AUTHORIZATION, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A request that takes longer than this counts as an error (and its connection is replaced).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Error messages kept to show; the rest are only counted.
const ERROR_SAMPLES: usize = 5;

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub address: SocketAddr,
    /// Path and query, e.g. `/api/v1/administrations/1/work-orders?limit=100`.
    pub path: String,
    /// A bearer token.
    pub token: String,
    pub clients: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Upper bound on requests over warm-up and measurement together.
    pub max_requests: u64,
    /// Every answer must be 200 with exactly this many `items`.
    pub expected_items: usize,
}

/// What was measured.
#[derive(Debug)]
pub struct LoadReport {
    /// Successful requests started inside the measured window.
    pub requests: u64,
    /// From the start of the measured window until the last of them finished.
    pub elapsed: Duration,
    /// Latencies of the successful measured requests, sorted.
    pub latencies: Vec<Duration>,
    /// Successful requests, warm-up included.
    pub completed: u64,
    /// Failed requests, warm-up included.
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Whether the request bound cut the run short.
    pub hit_request_limit: bool,
}

impl LoadReport {
    pub fn requests_per_second(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.requests as f64 / self.elapsed.as_secs_f64()
        }
    }

    /// The latency below which `fraction` of the requests finished (nearest rank).
    pub fn percentile(&self, fraction: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (fraction * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// An answer read in full.
pub struct Answer {
    pub status: u16,
    /// As received: still compressed when `content_encoding` is set.
    pub body: Bytes,
    /// The `Content-Encoding` of the body, e.g. `gzip`.
    pub content_encoding: Option<String>,
}

/// One GET on a fresh connection, e.g. for `/readyz` or a first check.
pub async fn get(address: SocketAddr, path: &str, token: Option<&str>) -> anyhow::Result<Answer> {
    let mut sender = connect(address).await?;
    let token = token.map(bearer).transpose()?;
    exchange(&mut sender, &request(address, path, token.as_ref())?).await
}

/// A keep-alive connection that sends GETs one after another with one `Authorization` header, as a
/// single reader (Power BI paging through a feed) does.
pub struct Reader {
    address: SocketAddr,
    sender: SendRequest<Empty<Bytes>>,
    authorization: HeaderValue,
    accept_encoding: Option<HeaderValue>,
}

impl Reader {
    pub async fn connect(address: SocketAddr, mut authorization: HeaderValue) -> anyhow::Result<Reader> {
        authorization.set_sensitive(true);
        Ok(Reader {
            address,
            sender: connect(address).await?,
            authorization,
            accept_encoding: None,
        })
    }

    /// Sends `Accept-Encoding` with every request from now on (`None`: not at all).
    pub fn set_accept_encoding(&mut self, accept_encoding: Option<HeaderValue>) {
        self.accept_encoding = accept_encoding;
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        let mut request = request(self.address, path, Some(&self.authorization))?;
        if let Some(encoding) = &self.accept_encoding {
            request
                .headers_mut()
                .insert(hyper::header::ACCEPT_ENCODING, encoding.clone());
        }
        exchange(&mut self.sender, &request).await
    }
}

/// Runs the plan and reports. Fails only when the plan itself is wrong; failed requests are counted.
pub async fn run(plan: LoadPlan) -> anyhow::Result<LoadReport> {
    if !plan.address.ip().is_loopback() {
        bail!(
            "the load generator only talks to loopback addresses, not {}",
            plan.address
        );
    }
    let token = bearer(&plan.token)?;
    // Checks the request once so that a wrong path or header fails here, not in every client.
    request(plan.address, &plan.path, Some(&token))?;
    let started = Instant::now();
    let measure_from = started + plan.warmup;
    let window = Window {
        measure_from,
        end: measure_from + plan.duration,
    };
    let issued = Arc::new(AtomicU64::new(0));
    let plan = Arc::new(plan);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..plan.clients {
        clients.spawn(client(plan.clone(), token.clone(), window, issued.clone()));
    }
    let mut report = LoadReport {
        requests: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        completed: 0,
        errors: 0,
        error_samples: Vec::new(),
        hit_request_limit: false,
    };
    while let Some(joined) = clients.join_next().await {
        let outcome = joined.context("a load client panicked")?;
        report.requests += outcome.latencies.len() as u64;
        report.latencies.extend(outcome.latencies);
        report.completed += outcome.completed;
        report.errors += outcome.errors;
        for sample in outcome.error_samples {
            if report.error_samples.len() < ERROR_SAMPLES {
                report.error_samples.push(sample);
            }
        }
    }
    report.elapsed = Instant::now().saturating_duration_since(measure_from);
    report.latencies.sort_unstable();
    report.hit_request_limit = issued.load(Ordering::Relaxed) >= plan.max_requests;
    Ok(report)
}

#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

#[derive(Default)]
struct ClientOutcome {
    latencies: Vec<Duration>,
    completed: u64,
    errors: u64,
    error_samples: Vec<String>,
}

impl ClientOutcome {
    fn failed(&mut self, message: String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(message);
        }
    }
}

/// One client: a request at a time on a kept-alive connection, reconnecting after an error.
async fn client(plan: Arc<LoadPlan>, token: HeaderValue, window: Window, issued: Arc<AtomicU64>) -> ClientOutcome {
    let mut outcome = ClientOutcome::default();
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    // The last body that passed the full check. The benchmark reads the same page over and over, so
    // an identical body needs no second JSON parse: that keeps the generator's CPU (it shares the
    // machine with the server, and xtask is an unoptimised build) from skewing the figures.
    let mut checked_body: Option<Bytes> = None;
    let Ok(template) = request(plan.address, &plan.path, Some(&token)) else {
        return outcome;
    };
    loop {
        let started = Instant::now();
        if started >= window.end || issued.fetch_add(1, Ordering::Relaxed) >= plan.max_requests {
            break;
        }
        let connection = match sender.as_mut() {
            Some(connection) => connection,
            None => match connect(plan.address).await {
                Ok(connection) => sender.insert(connection),
                Err(error) => {
                    outcome.failed(format!("connect: {error:#}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, exchange(connection, &template)).await;
        let latency = started.elapsed();
        let checked = match answer {
            Ok(Ok(answer)) if answer.status == 200 && checked_body.as_ref() == Some(&answer.body) => Ok(()),
            Ok(Ok(answer)) => {
                let verdict = check(&answer, plan.expected_items);
                if verdict.is_ok() {
                    checked_body = Some(answer.body);
                }
                verdict
            }
            Ok(Err(error)) => {
                sender = None;
                Err(format!("{error:#}"))
            }
            Err(_) => {
                sender = None;
                Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
            }
        };
        match checked {
            Ok(()) => {
                outcome.completed += 1;
                if started >= window.measure_from {
                    outcome.latencies.push(latency);
                }
            }
            Err(message) => outcome.failed(message),
        }
    }
    outcome
}

/// A page of a list endpoint: only the number of items matters here.
#[derive(serde::Deserialize)]
struct Page {
    items: Vec<serde::de::IgnoredAny>,
}

fn check(answer: &Answer, expected_items: usize) -> Result<(), String> {
    if answer.status != 200 {
        return Err(format!("status {}: {}", answer.status, snippet(&answer.body)));
    }
    match serde_json::from_slice::<Page>(&answer.body) {
        Ok(page) if page.items.len() == expected_items => Ok(()),
        Ok(page) => Err(format!("{} items instead of {expected_items}", page.items.len())),
        Err(error) => Err(format!("not a page of items ({error}): {}", snippet(&answer.body))),
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

fn bearer(token: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).context("the token is not a valid header")?;
    value.set_sensitive(true);
    Ok(value)
}

fn request(
    address: SocketAddr,
    path: &str,
    token: Option<&HeaderValue>,
) -> anyhow::Result<hyper::Request<Empty<Bytes>>> {
    let mut builder = hyper::Request::get(path)
        .header(HOST, address.to_string())
        .header(ACCEPT, "application/json");
    if let Some(token) = token {
        builder = builder.header(AUTHORIZATION, token.clone());
    }
    builder
        .body(Empty::new())
        .with_context(|| format!("{path} is not a valid request path"))
}

async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends when the sender is dropped or the server closes the connection.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn exchange(
    sender: &mut SendRequest<Empty<Bytes>>,
    template: &hyper::Request<Empty<Bytes>>,
) -> anyhow::Result<Answer> {
    let mut request = hyper::Request::new(Empty::new());
    *request.method_mut() = template.method().clone();
    *request.uri_mut() = template.uri().clone();
    *request.headers_mut() = template.headers().clone();
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let content_encoding = response
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        body,
        content_encoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(latencies_ms: &[u64]) -> LoadReport {
        LoadReport {
            requests: latencies_ms.len() as u64,
            elapsed: Duration::from_secs(1),
            latencies: latencies_ms.iter().map(|ms| Duration::from_millis(*ms)).collect(),
            completed: latencies_ms.len() as u64,
            errors: 0,
            error_samples: Vec::new(),
            hit_request_limit: false,
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let hundred = report(&(1..=100).collect::<Vec<_>>());
        assert_eq!(hundred.percentile(0.5), Duration::from_millis(50));
        assert_eq!(hundred.percentile(0.99), Duration::from_millis(99));
        assert_eq!(hundred.max(), Duration::from_millis(100));
        assert_eq!(report(&[]).percentile(0.99), Duration::ZERO);
    }

    #[test]
    fn an_answer_needs_status_200_and_the_expected_number_of_items() {
        let answer = |status, body: &str| Answer {
            status,
            body: Bytes::from(body.to_string()),
            content_encoding: None,
        };
        assert!(check(&answer(200, r#"{"items":[1,2],"next_cursor":null}"#), 2).is_ok());
        assert!(check(&answer(200, r#"{"items":[1]}"#), 2).is_err());
        assert!(check(&answer(401, r#"{"error":"unauthorized"}"#), 0).is_err());
        assert!(check(&answer(200, "not json"), 0).is_err());
    }

    #[tokio::test]
    async fn only_loopback_is_loaded() {
        let plan = LoadPlan {
            address: "192.0.2.1:80".parse().unwrap(),
            path: "/".into(),
            token: "t".into(),
            clients: 1,
            warmup: Duration::ZERO,
            duration: Duration::ZERO,
            max_requests: 1,
            expected_items: 0,
        };
        assert!(run(plan).await.is_err());
    }
}
