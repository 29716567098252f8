//! `koppel worker`'s own small HTTP server, on `[jobs] metrics_bind:metrics_port`: `GET /metrics`
//! (this process's metrics as Prometheus text, the same recorder `koppel serve` renders at its
//! `/metrics`) and `GET /healthz` (200 "ok" while the database answers, 503 when it does not).
//! Two fixed routes, so it is served with hyper directly; the web crate is the only one that knows
//! axum.

use anyhow::Context;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use koppel_store::Store;
use std::future::Future;
use std::time::Duration;

/// How long a client may take to send its request line and headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `/healthz` waits for the database before it says it is unavailable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `address` (a port in use stops the worker at start with a clear error) and serves until
/// `shutdown` completes.
pub async fn serve(
    address: &str,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| {
        format!(
            "cannot listen on {address} for the worker's /metrics and /healthz; is another program using the port? \
             (set --metrics-port, KOPPEL_JOBS_METRICS_PORT or jobs.metrics_port; jobs.metrics_enabled = false turns it off)"
        )
    })?;
    let local_address = listener.local_addr()?;
    // Installed now, before the worker records anything.
    koppel_web::metrics_handle();
    tracing::info!(
        metrics.address = %local_address,
        "worker metrics at http://{local_address}/metrics, health at http://{local_address}/healthz"
    );
    Ok(tokio::spawn(async move {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(error = %error, "the worker's metrics server could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let store = store.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let store = store.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(&request, &store).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(error = %error, "a connection to the worker's metrics server ended badly");
                }
            });
        }
    }))
}

async fn respond(request: &Request<Incoming>, store: &Store) -> Response<String> {
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".to_string());
    }
    match request.uri().path() {
        "/metrics" => {
            let mut response = text(StatusCode::OK, koppel_web::metrics_handle().render());
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            response
        }
        "/healthz" => match tokio::time::timeout(DATABASE_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => text(StatusCode::OK, "ok\n".to_string()),
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "health check: the database does not answer");
                text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n".to_string())
            }
            Err(_) => {
                tracing::warn!("health check: the database did not answer within 5 s");
                text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n".to_string())
            }
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; the worker serves /metrics and /healthz\n".to_string(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
