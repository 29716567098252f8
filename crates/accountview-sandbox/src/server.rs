//! The accept loop: serves the router over HTTP/1.1 on a bound listener, one task per connection.
//!
//! The sandbox runs its own loop instead of `axum::serve` for two reasons: commit-then-timeout has to drop a
//! connection without answering, which needs a per-connection handle, and the control surface has to know the
//! peer address to stay loopback-only.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

/// Handed to every request of a connection (as a request extension).
#[derive(Clone, Debug)]
pub struct ConnectionHandle {
    pub peer: SocketAddr,
    drop_signal: Arc<Notify>,
}

impl ConnectionHandle {
    /// Closes the connection at once, without sending an answer for the request in flight.
    pub fn drop_connection(&self) {
        self.drop_signal.notify_one();
    }
}

/// Serves until `shutdown` completes; connections still open then are closed with the runtime.
pub async fn run(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually out of file descriptors; pausing keeps the loop from spinning while it lasts.
                tracing::warn!(error = %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small JSON answers: waiting for Nagle would add 40 ms to every keep-alive request.
        let _ = stream.set_nodelay(true);
        let handle = ConnectionHandle {
            peer,
            drop_signal: Arc::new(Notify::new()),
        };
        let drop_signal = Arc::clone(&handle.drop_signal);
        let service = router.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(handle.clone());
            request
        });
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(client.address = %peer, error = %error, "connection ended with an error");
                    }
                }
                () = drop_signal.notified() => {
                    tracing::debug!(client.address = %peer, "connection dropped on purpose");
                }
            }
        });
    }
}
