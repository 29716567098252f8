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
    /// How long a client may take to send a request's head (line and headers).
    pub header_read_timeout: std::time::Duration,
    /// How long a client may take to send a request's body, from the end of its head.
    pub body_read_timeout: std::time::Duration,
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
            header_read_timeout: std::time::Duration::from_secs(10),
            body_read_timeout: std::time::Duration::from_secs(30),
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
    /// Set when that AccountView is the demo's sandbox: the AccountView page says so, with its login.
    pub accountview_sandbox: Option<AccountViewSandbox>,
}

/// The AccountView sandbox `koppel serve --demo` runs: sample books, not a real AccountView.
#[derive(Debug, Clone)]
pub struct AccountViewSandbox {
    pub base_url: String,
    /// A sandbox login and its password, to sign in with on its login page.
    pub login: String,
    pub password: String,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            login_limiter: Arc::new(auth::LoginLimiter),
            metrics: metrics_handle(),
            accountview: None,
            accountview_sandbox: None,
        }
    }

    /// The same state with the AccountView integration reachable by the pages and the API.
    pub fn with_accountview(mut self, accountview: koppel_accountview::AccountView) -> AppState {
        self.accountview = Some(accountview);
        self
    }

    /// The same state, telling the AccountView page that its AccountView is the demo's sandbox.
    pub fn with_accountview_sandbox(mut self, sandbox: AccountViewSandbox) -> AppState {
        self.accountview_sandbox = Some(sandbox);
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
        // An address nothing is served at: JSON for the API and the feed, a page for a browser.
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::localize_error_pages,
        ))
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
///
/// Slow or half-sent requests cannot hold a connection: the request head must arrive within
/// [`WebConfig::header_read_timeout`] and the body within [`WebConfig::body_read_timeout`] of the
/// head, or the connection is closed. Each request carries its peer address (`ConnectInfo`), which
/// the login throttle counts by.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.config.header_read_timeout;
    let body_read_timeout = state.config.body_read_timeout;
    let app = router(state).layer(axum::middleware::map_request(move |request: Request| async move {
        body::with_deadline(request, body_read_timeout)
    }));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors; pausing keeps the loop from spinning while it lasts.
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            tower::ServiceExt::map_request(app.clone(), move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(client.address = %peer, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The deadline on request bodies.
mod body {
    use axum::body::{Body, Bytes, HttpBody};
    use axum::extract::Request;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    /// The request with a body that fails once `timeout` has passed before it was read to the end.
    pub(crate) fn with_deadline(request: Request, timeout: Duration) -> Request {
        let (parts, body) = request.into_parts();
        let body = DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        };
        Request::from_parts(parts, Body::new(body))
    }

    struct DeadlineBody {
        inner: Body,
        deadline: Pin<Box<tokio::time::Sleep>>,
        timeout: Duration,
    }

    /// The body did not arrive in time; the handler answers 4xx and the connection is closed.
    #[derive(Debug, thiserror::Error)]
    #[error("the request body did not arrive within {0:?}")]
    struct BodyTimedOut(Duration);

    impl HttpBody for DeadlineBody {
        type Data = Bytes;
        type Error = axum::BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            context: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(context) {
                return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
            }
            match self.deadline.as_mut().poll(context) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut(self.timeout).into()))),
                Poll::Pending => Poll::Pending,
            }
        }

        fn is_end_stream(&self) -> bool {
            self.inner.is_end_stream()
        }

        fn size_hint(&self) -> hyper::body::SizeHint {
            self.inner.size_hint()
        }
    }
}
