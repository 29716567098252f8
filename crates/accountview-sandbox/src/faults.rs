//! Injected faults and the rate limiter: the ways the real service misbehaves that a connector must survive.
//!
//! Per route: extra latency, "fail the next N calls with this status", and commit-then-timeout (the write is
//! stored, then the connection is dropped without an answer — the case that makes naive clients post an
//! invoice twice). Globally or per administration: offline (503). Per client and administration: a token
//! bucket of N requests per minute (429 with `Retry-After`), holding a minute's worth unless a smaller burst
//! is set. Every API call is also written to a call log (route, administration, when it arrived and was
//! answered, status), so tests and benchmarks can count what a client really sent and when.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{AvError, OAuthError, number};
use crate::server::ConnectionHandle;
use crate::state::Shared;

/// The routes faults can be injected on, as `METHOD path`; `*` stands for all of them.
pub const FAULT_ROUTES: [&str; 5] = [
    "POST /api/v3/token",
    "GET /api/v3/Companies",
    "GET /api/v3/AccountViewSystemBusinessObjects",
    "GET /api/v3/AccountViewData",
    "POST /api/v3/AccountViewData",
];
pub const ALL_ROUTES: &str = "*";
const TOKEN_ROUTE: &str = "POST /api/v3/token";

/// The answer an injected failure gives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectedFailure {
    pub status: u16,
    /// AccountView error number in the body (token route: ignored).
    pub error_number: u32,
    pub message: String,
    /// `Retry-After` seconds, sent with 429 and 503 answers.
    pub retry_after_seconds: Option<u64>,
    /// RFC 6749 error code for the token route (`server_error`, `temporarily_unavailable`, `invalid_grant`…).
    pub oauth_error: Option<String>,
}

impl InjectedFailure {
    fn response(&self, route: &str) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if route == TOKEN_ROUTE {
            let default_error = match status.as_u16() {
                503 => "temporarily_unavailable",
                401 => "invalid_client",
                400..=499 => "invalid_request",
                _ => "server_error",
            };
            let error = self.oauth_error.as_deref().unwrap_or(default_error);
            return OAuthError::new(status, error, self.message.clone()).into_response();
        }
        let mut error = AvError::new(status, self.error_number, self.message.clone());
        if matches!(status.as_u16(), 429 | 503) {
            error.retry_after_seconds = Some(self.retry_after_seconds.unwrap_or(1));
        }
        if status == StatusCode::UNAUTHORIZED {
            error.www_authenticate = Some(r#"Bearer realm="AccountView", error="invalid_token""#.to_owned());
        }
        error.into_response()
    }
}

/// Faults armed on one route.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RouteFaults {
    pub latency_ms: u64,
    /// Failures still to give, each with how many calls it still applies to.
    pub fail_next: VecDeque<(InjectedFailure, u32)>,
    /// Successful calls still to answer by dropping the connection, and the delay before dropping.
    pub commit_then_timeout: Option<CommitThenTimeout>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CommitThenTimeout {
    pub remaining: u32,
    pub delay_ms: u64,
}

/// All injected faults.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Faults {
    pub routes: HashMap<String, RouteFaults>,
    /// Every administration offline.
    pub offline: bool,
    /// Single administrations offline.
    pub offline_companies: BTreeSet<String>,
}

impl Faults {
    pub fn route_mut(&mut self, route: &str) -> &mut RouteFaults {
        self.routes.entry(route.to_owned()).or_default()
    }

    pub fn is_offline(&self, company_id: &str) -> bool {
        self.offline || self.offline_companies.contains(company_id)
    }

    /// Latency for a call: the route's own plus the wildcard's.
    fn latency_ms(&self, route: &str) -> u64 {
        let own = self.routes.get(route).map_or(0, |faults| faults.latency_ms);
        let wildcard = self.routes.get(ALL_ROUTES).map_or(0, |faults| faults.latency_ms);
        own + wildcard
    }

    /// Takes one armed failure for a call, the route's own before the wildcard's.
    fn take_failure(&mut self, route: &str) -> Option<InjectedFailure> {
        for key in [route, ALL_ROUTES] {
            let Some(faults) = self.routes.get_mut(key) else {
                continue;
            };
            let Some((failure, remaining)) = faults.fail_next.front_mut() else {
                continue;
            };
            let failure = failure.clone();
            *remaining -= 1;
            if *remaining == 0 {
                faults.fail_next.pop_front();
            }
            return Some(failure);
        }
        None
    }

    fn commit_then_timeout_armed(&self, route: &str) -> bool {
        [route, ALL_ROUTES].iter().any(|key| {
            self.routes
                .get(*key)
                .is_some_and(|faults| faults.commit_then_timeout.is_some())
        })
    }

    /// Consumes one commit-then-timeout for a call that succeeded; returns the delay before dropping.
    fn take_commit_then_timeout(&mut self, route: &str) -> Option<u64> {
        for key in [route, ALL_ROUTES] {
            let Some(faults) = self.routes.get_mut(key) else {
                continue;
            };
            let Some(armed) = faults.commit_then_timeout.as_mut() else {
                continue;
            };
            let delay_ms = armed.delay_ms;
            armed.remaining -= 1;
            if armed.remaining == 0 {
                faults.commit_then_timeout = None;
            }
            return Some(delay_ms);
        }
        None
    }
}

/// Middleware on the API routes: latency, injected failures, and commit-then-timeout after the handler ran;
/// every call ends up in the call log.
pub async fn inject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |matched| matched.as_str().to_owned(),
    );
    let route = format!("{} {path}", request.method());
    let company_id = request
        .headers()
        .get("x-company")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned);
    let arrived_ms = shared.clock.now().timestamp_millis();
    let log = |status: u16| {
        shared.calls().push(Call {
            route: route.clone(),
            company_id: company_id.clone(),
            arrived_ms,
            answered_ms: shared.clock.now().timestamp_millis(),
            status,
        });
    };
    let (latency_ms, failure, watch_commit) = {
        let mut faults = shared.faults();
        let latency_ms = faults.latency_ms(&route);
        let failure = faults.take_failure(&route);
        let watch_commit = failure.is_none() && faults.commit_then_timeout_armed(&route);
        (latency_ms, failure, watch_commit)
    };
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    if let Some(failure) = failure {
        tracing::debug!(route.name = %route, http.status = failure.status, "injected failure");
        let response = failure.response(&route);
        log(response.status().as_u16());
        return response;
    }
    let connection = request.extensions().get::<ConnectionHandle>().cloned();
    let response = next.run(request).await;
    let taken = if watch_commit && response.status().is_success() {
        shared.faults().take_commit_then_timeout(&route)
    } else {
        None
    };
    let Some(delay_ms) = taken else {
        log(response.status().as_u16());
        return response;
    };
    tracing::debug!(route.name = %route, "commit-then-timeout: dropping the connection after a successful call");
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    match connection {
        Some(connection) => {
            log(NO_ANSWER);
            connection.drop_connection();
            // The connection task now drops this future with the connection; this answer is never sent.
            std::future::pending::<()>().await;
            response
        }
        // Without a connection handle (a router served by someone else) the closest thing is a gateway timeout.
        None => {
            log(StatusCode::GATEWAY_TIMEOUT.as_u16());
            AvError::new(StatusCode::GATEWAY_TIMEOUT, number::INJECTED, "Time-out").into_response()
        }
    }
}

/// The status the call log shows for a call whose connection was dropped without an answer.
pub const NO_ANSWER: u16 = 0;

/// Calls kept in the call log; older ones are forgotten first (a long benchmark makes millions).
const CALL_LOG_CAPACITY: usize = 200_000;

/// One API call as the sandbox saw it. Times are milliseconds since the Unix epoch on the sandbox clock.
#[derive(Clone, Debug, Serialize)]
pub struct Call {
    /// `METHOD path`, as fault routes are named.
    pub route: String,
    /// The `x-company` header, when there was one.
    pub company_id: Option<String>,
    /// When the request arrived, before any injected latency.
    pub arrived_ms: i64,
    /// When it was answered (or its connection dropped).
    pub answered_ms: i64,
    /// The HTTP status answered; [`NO_ANSWER`] (0) when the connection was dropped instead.
    pub status: u16,
}

/// The most recent API calls, oldest first.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: VecDeque<Call>,
    /// Calls forgotten because the log was full.
    forgotten: u64,
}

impl CallLog {
    fn push(&mut self, call: Call) {
        if self.calls.len() == CALL_LOG_CAPACITY {
            self.calls.pop_front();
            self.forgotten += 1;
        }
        self.calls.push_back(call);
    }

    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.iter()
    }

    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    pub fn clear(&mut self) {
        self.calls.clear();
        self.forgotten = 0;
    }
}

/// A token bucket per client and administration: it refills at the limit's rate and holds `burst` requests
/// (a whole minute's worth unless set), so after a quiet spell that many may come at once and after that
/// one per `60 / limit` seconds.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<(String, String), Bucket>,
    burst: Option<u32>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: DateTime<Utc>,
}

impl RateLimiter {
    /// A limiter whose buckets hold `burst` requests (`None`: a minute's worth).
    pub fn new(burst: Option<u32>) -> Self {
        Self {
            buckets: HashMap::new(),
            burst,
        }
    }

    pub fn burst(&self) -> Option<u32> {
        self.burst
    }

    /// Changes the bucket size; every bucket starts full again.
    pub fn set_burst(&mut self, burst: Option<u32>) {
        self.burst = burst;
        self.buckets.clear();
    }

    /// Takes one request from the bucket, or says after how many seconds one will be available.
    /// A limit of 0 means no limit.
    pub fn check(&mut self, client_id: &str, company_id: &str, per_minute: u32, now: DateTime<Utc>) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.burst.unwrap_or(per_minute).max(1));
        let per_second = f64::from(per_minute) / 60.0;
        let bucket = self
            .buckets
            .entry((client_id.to_owned(), company_id.to_owned()))
            .or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
        let elapsed_seconds = (now - bucket.updated).num_milliseconds().max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed_seconds * per_second).min(capacity);
        bucket.updated = now;
        // A little slack absorbs float rounding, so waiting exactly `Retry-After` seconds is always enough.
        const SLACK: f64 = 1e-9;
        if bucket.tokens >= 1.0 - SLACK {
            bucket.tokens = (bucket.tokens - 1.0).max(0.0);
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second - SLACK).ceil().max(1.0) as u64)
        }
    }
}
