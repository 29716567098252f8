//! Koppel's HTTP surface: the REST API under `/api/v1`, the back-office pages, health and metrics
//! endpoints. (The OData feed is added here by its own issue.)
//!
//! Only this crate knows axum. It turns requests into store calls and store errors into answers.

pub mod api;
pub mod auth;
pub mod error;
pub mod external;
pub mod odata;
pub mod pages;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use koppel_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::net::TcpListener;

/// Settings of the web layer, taken from the operator's configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub session_lifetime: chrono::Duration,
    /// Mark cookies `Secure` (when Koppel is served over HTTPS).
    pub secure_cookies: bool,
    pub max_body_bytes: usize,
    /// How often a run's event stream looks for news (`/runs/{id}/events`).
    pub run_events_interval: std::time::Duration,
    /// `http.public_url`: when set, every absolute URL Koppel writes starts with it and browser
    /// writes must come from its origin.
    pub public_url: Option<external::PublicUrl>,
    /// `http.trusted_proxies`: peers whose `Forwarded`/`X-Forwarded-*` headers are believed.
    pub trusted_proxies: external::TrustedProxies,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_lifetime: chrono::Duration::hours(12),
            secure_cookies: false,
            max_body_bytes: 1024 * 1024,
            run_events_interval: std::time::Duration::from_millis(500),
            public_url: None,
            trusted_proxies: external::TrustedProxies::default(),
        }
    }
}

impl WebConfig {
    pub fn session_cookie(&self, secret: &str) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!(
            "{}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            auth::SESSION_COOKIE,
            self.session_lifetime.num_seconds()
        )
    }

    pub fn expired_session_cookie(&self) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            auth::SESSION_COOKIE
        )
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub login_limiter: Arc<auth::LoginLimiter>,
    pub metrics: PrometheusHandle,
    /// The AccountView integration, when the operator configured `[accountview]`; without it the
    /// AccountView page says it is not configured and its REST endpoints answer 503.
    pub accountview: Option<koppel_accountview::AccountView>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            login_limiter: Arc::new(auth::LoginLimiter::default()),
            metrics: metrics_handle(),
            accountview: None,
        }
    }

    /// The same state with the AccountView integration reachable by the pages and the API.
    pub fn with_accountview(mut self, accountview: koppel_accountview::AccountView) -> AppState {
        self.accountview = Some(accountview);
        self
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test binary); then this one only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .merge(odata::router())
        .merge(api::router())
        .merge(pages::router())
        .layer(axum::middleware::from_fn(track_requests))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(compression())
        .with_state(state)
}

/// gzip or deflate when the client asks (`Accept-Encoding`), at the fastest level: feed pages are
/// JSON that compresses about tenfold even so, and the server's CPU per row stays low. Event
/// streams (`text/event-stream`) are never compressed, so their events are not held back in a
/// compressor's buffer; bodies under 32 bytes are left as they are.
fn compression() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest)
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts requests and their latency per route and status.
async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed();
    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::debug!(http.method = %method, http.route = %route, http.status = %status, duration_ms = elapsed.as_millis() as u64, "request");
    response
}

/// Serves on an already bound listener until `shutdown` completes, then finishes open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address (`ConnectInfo`) tells whether a request came through a trusted proxy.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
